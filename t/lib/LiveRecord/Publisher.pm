package LiveRecord::Publisher;

# A raw RTMP publisher for crafted input (core Perl only): handshake,
# connect, createStream, publish, then audio/video messages exactly as
# given: any body, any timestamp, any size.
#
#   my $pub = LiveRecord::Publisher->new(port => $port, app => 'live',
#                                        name => 'x');
#   $pub->send(9, $ts, $body);          # 8 audio, 9 video
#   $pub->close;
#
#   my @tags = LiveRecord::Publisher::flv_tags($file);  # [type, ts, body]

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep);

my $CHUNK = 4096;

sub new {
    my ($class, %o) = @_;

    # a server that drops the connection is a case under test, not a crash
    $SIG{PIPE} = 'IGNORE';

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $o{port}, Proto => 'tcp') or die "connect: $!\n";
    binmode $s;
    my $self = bless { s => $s, port => $o{port} }, $class;

    # handshake: C0 C1, read S0 S1 S2, send C2 (the echo of S1)
    print $s "\x03" . pack('NN', 0, 0) . ("\x00" x 1528);
    my $s01 = $self->_read(1 + 1536 + 1536);
    print $s substr($s01, 1, 1536);

    $self->_message(2, 1, 0, 0, pack('N', $CHUNK));          # chunk size
    $self->_message(3, 20, 0, 0, amf_string('connect') . amf_number(1)
        . amf_object(app => $o{app}, type => 'nonprivate',
                     flashVer => 'FMLE/3.0', tcUrl =>
                     "rtmp://127.0.0.1:$o{port}/$o{app}"));
    $self->_message(3, 20, 0, 0, amf_string('createStream')
        . amf_number(2) . "\x05");
    $self->_message(8, 20, 1, 0, amf_string('publish') . amf_number(3)
        . "\x05" . amf_string($o{name}) . amf_string('live'));
    $self->drain(0.3);
    return $self;
}

sub send {
    my ($self, $type, $ts, $body) = @_;
    $self->_message($type == 8 ? 4 : 6, $type, 1, $ts, $body);
    $self->drain(0);
}

# FIN, then read until nginx closes: a close with its replies unread
# would send a reset, and nginx would drop the tags it had not read yet
# (seen under load: a push recorded nothing)
sub close {
    my ($self) = @_;
    shutdown($self->{s}, 1);
    my $sel = IO::Select->new($self->{s});
    my $end = time + 20;
    while (time < $end) {
        next unless $sel->can_read(0.5);
        my $n = sysread($self->{s}, my $buf, 65536);
        last unless $n;
    }
    close $self->{s};
}

# reads what the server sent, so that its buffers never fill

sub drain {
    my ($self, $wait) = @_;
    my $sel = IO::Select->new($self->{s});
    while ($sel->can_read($wait)) {
        my $n = sysread($self->{s}, my $buf, 65536);
        last unless $n;
        $wait = 0;
    }
}

sub _read {
    my ($self, $n) = @_;
    my $data = '';
    while (length $data < $n) {
        my $got = sysread($self->{s}, my $buf, $n - length $data);
        die "handshake: connection closed\n" unless $got;
        $data .= $buf;
    }
    return $data;
}

# a message in chunks: a type 0 header, then type 3 continuations

sub _message {
    my ($self, $csid, $type, $msid, $ts, $body) = @_;
    my $ext = $ts >= 0xffffff;
    my $hdr = pack('C', $csid) . substr(pack('N', $ext ? 0xffffff : $ts), 1)
        . substr(pack('N', length $body), 1) . pack('C', $type)
        . pack('V', $msid) . ($ext ? pack('N', $ts) : '');
    my $out = $hdr . substr($body, 0, $CHUNK);
    for (my $off = $CHUNK; $off < length $body; $off += $CHUNK) {
        $out .= pack('C', 0xc0 | $csid) . ($ext ? pack('N', $ts) : '')
            . substr($body, $off, $CHUNK);
    }
    my $s = $self->{s};
    print $s $out;
}

sub amf_string { my $v = shift; "\x02" . pack('n', length $v) . $v }
sub amf_number { "\x00" . pack('d>', shift) }

sub amf_object {
    my (%o) = @_;
    my $out = "\x03";
    for my $k (sort keys %o) {
        $out .= pack('n', length $k) . $k . amf_string($o{$k});
    }
    return $out . "\x00\x00\x09";
}

# [type, timestamp, body] of every audio and video tag of an FLV file

sub flv_tags {
    my ($file) = @_;
    open my $fh, '<:raw', $file or die "$file: $!";
    local $/;
    my $d = <$fh>;
    my $pos = unpack('N', substr($d, 5, 4)) + 4;
    my @tags;
    while ($pos + 11 <= length $d) {
        my ($type, $s1, $s2, $s3) = unpack('C4', substr($d, $pos, 4));
        my $size = ($s1 << 16) | ($s2 << 8) | $s3;
        my ($t1, $t2, $t3, $tx) = unpack('C4', substr($d, $pos + 4, 4));
        my $ts = ($tx << 24) | ($t1 << 16) | ($t2 << 8) | $t3;
        push @tags, [$type, $ts, substr($d, $pos + 11, $size)]
            if $type == 8 || $type == 9;
        $pos += 11 + $size + 4;
    }
    return @tags;
}

1;

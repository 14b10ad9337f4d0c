package LiveRecord::MP4;

# A small MP4 box reader for the tests, in core Perl and independent of the
# writer: it walks the top-level boxes, reads the moov and each track's
# sample tables, and checks that the file is whole.
#
#   my $mp4 = LiveRecord::MP4->read($path);     # dies on an unreadable file
#   my @errors = $mp4->check;                   # empty when all is well
#   $mp4->{top}        [ { type, offset, size, header } ... ]
#   $mp4->{tracks}     [ { id, handler, timescale, duration, samples,
#                          sizes, stts, ctts, stss, stsc, chunks, co64,
#                          elst, codec, width, height, channels, rate,
#                          avcC, config (avcC/hvcC/av1C), oti, asc } ... ]
#   $mp4->{udta}       the moov's udta payload, raw (e.g. an encoder tag)
#   $mp4->track('vide'), $mp4->durations($track), $mp4->stts_sum($track)

use strict;
use warnings;

my %container = map { $_ => 1 } qw(moov trak mdia minf stbl edts dinf udta);

sub read {
    my ($class, $path) = @_;

    open(my $fh, '<:raw', $path) or die "open $path: $!";
    my $size = -s $fh;
    my $self = bless { path => $path, size => $size, top => [],
                       tracks => [], errors => [] }, $class;

    my $off = 0;

    while ($off < $size) {
        my $h = _pread($fh, $off, 16);

        if (length($h) < 8) {
            push @{$self->{errors}}, "torn box header at $off";
            last;
        }

        my ($bsize, $type) = unpack('N a4', $h);
        my $header = 8;

        if ($bsize == 1) {
            if (length($h) < 16) {
                push @{$self->{errors}}, "torn largesize at $off";
                last;
            }

            my ($hi, $lo) = unpack('N N', substr($h, 8, 8));
            $bsize = $hi * 4294967296 + $lo;
            $header = 16;

        } elsif ($bsize == 0) {
            $bsize = $size - $off;
        }

        if ($bsize < $header) {
            push @{$self->{errors}}, "box '$type' at $off has size $bsize";
            last;
        }

        push @{$self->{top}}, { type => $type, offset => $off,
                                size => $bsize, header => $header };

        if ($off + $bsize > $size) {
            push @{$self->{errors}}, "box '$type' at $off ($bsize bytes) "
                                     . "runs past the end ($size)";
            last;
        }

        if ($type eq 'moov') {
            my $body = _pread($fh, $off + $header, $bsize - $header);
            $self->_moov($body);
        }

        $off += $bsize;
    }

    close $fh;

    return $self;
}

sub _pread {
    my ($fh, $off, $len) = @_;

    seek($fh, $off, 0) or die "seek: $!";
    my $buf = '';
    my $n = CORE::read($fh, $buf, $len);
    die "read: $!" unless defined $n;

    return $buf;
}

# children of a container: [ type, body ] in order

sub _boxes {
    my ($self, $data, $where) = @_;

    my @out;
    my $off = 0;
    my $len = length $data;

    while ($off < $len) {
        if ($len - $off < 8) {
            push @{$self->{errors}}, "$where: " . ($len - $off)
                                     . " stray bytes";
            last;
        }

        my ($size, $type) = unpack('N a4', substr($data, $off, 8));
        my $header = 8;

        if ($size == 1) {
            my ($hi, $lo) = unpack('N N', substr($data, $off + 8, 8));
            $size = $hi * 4294967296 + $lo;
            $header = 16;
        }

        if ($size < $header || $off + $size > $len) {
            push @{$self->{errors}}, "$where: box '$type' size $size does "
                                     . "not fit";
            last;
        }

        push @out, [ $type, substr($data, $off + $header, $size - $header) ];
        $off += $size;
    }

    return @out;
}

sub _moov {
    my ($self, $body) = @_;

    $self->{moovs}++;

    for my $b ($self->_boxes($body, 'moov')) {
        my ($type, $data) = @$b;

        if ($type eq 'mvhd') {
            my $v = unpack('C', $data);
            if ($v == 1) {
                my ($ts, $hi, $lo) = unpack('x20 N N N', $data);
                @{$self}{qw(timescale duration)} = ($ts, $hi * 2**32 + $lo);
            } else {
                @{$self}{qw(timescale duration)} = unpack('x12 N N', $data);
            }
            $self->{next_track} = unpack('N', substr($data, -4));

        } elsif ($type eq 'trak') {
            push @{$self->{tracks}}, $self->_trak($data);

        } elsif ($type eq 'udta') {
            # kept raw: the tests tell libavformat's files by its tag
            $self->{udta} .= $data;
        }
    }
}

sub _trak {
    my ($self, $data) = @_;

    my $t = { sizes => [], stts => [], ctts => [], stss => undef,
              stsc => [], chunks => [], elst => [] };

    $self->_walk($t, $data, 'trak');

    $t->{samples} = scalar @{$t->{sizes}};

    return $t;
}

sub _walk {
    my ($self, $t, $data, $where) = @_;

    for my $b ($self->_boxes($data, $where)) {
        my ($type, $d) = @$b;

        if ($container{$type}) {
            $self->_walk($t, $d, "$where/$type");
            next;
        }

        $t->{boxes}{$type}++;

        if ($type eq 'tkhd') {
            my $v = unpack('C', $d);
            $t->{id} = unpack($v == 1 ? 'x20 N' : 'x12 N', $d);
            $t->{tkhd_duration} = $v == 1
                ? unpack('x28 N', $d) : unpack('x20 N', $d);
            my ($w, $h) = unpack('N N', substr($d, -8));
            $t->{tkhd_width} = $w / 65536;
            $t->{tkhd_height} = $h / 65536;

        } elsif ($type eq 'elst') {
            my ($v, $n) = unpack('C x3 N', $d);
            for my $i (0 .. $n - 1) {
                if ($v == 1) {
                    my ($dh, $dl, $mh, $ml) =
                        unpack('N N N N', substr($d, 8 + $i * 20, 16));
                    my $mt = $mh * 2**32 + $ml;
                    $mt = -1 if $mh == 0xffffffff;
                    push @{$t->{elst}}, [ $dh * 2**32 + $dl, $mt ];
                } else {
                    my ($dur, $mt) = unpack('N N', substr($d, 8 + $i * 12));
                    $mt = -1 if $mt == 0xffffffff;
                    push @{$t->{elst}}, [ $dur, $mt ];
                }
            }

        } elsif ($type eq 'mdhd') {
            my $v = unpack('C', $d);
            if ($v == 1) {
                my ($ts, $hi, $lo) = unpack('x20 N N N', $d);
                @{$t}{qw(timescale duration)} = ($ts, $hi * 2**32 + $lo);
            } else {
                @{$t}{qw(timescale duration)} = unpack('x12 N N', $d);
            }

        } elsif ($type eq 'hdlr') {
            $t->{handler} = substr($d, 8, 4);

        } elsif ($type eq 'stsd') {
            my $n = unpack('x4 N', $d);
            push @{$self->{errors}}, "stsd has $n entries" if $n != 1;
            $self->_entry($t, substr($d, 8));

        } elsif ($type eq 'stts' || $type eq 'ctts') {
            my $n = unpack('x4 N', $d);
            _need($self, $d, 8 + 8 * $n, $type);
            my @v = unpack("x8 (N N)$n", $d);
            push @{$t->{$type}}, [ splice(@v, 0, 2) ] while @v;

        } elsif ($type eq 'stss') {
            my $n = unpack('x4 N', $d);
            _need($self, $d, 8 + 4 * $n, $type);
            $t->{stss} = [ unpack("x8 N$n", $d) ];

        } elsif ($type eq 'stsz') {
            my ($fixed, $n) = unpack('x4 N N', $d);
            if ($fixed) {
                $t->{sizes} = [ ($fixed) x $n ];
            } else {
                _need($self, $d, 12 + 4 * $n, $type);
                $t->{sizes} = [ unpack("x12 N$n", $d) ];
            }

        } elsif ($type eq 'stsc') {
            my $n = unpack('x4 N', $d);
            _need($self, $d, 8 + 12 * $n, $type);
            my @v = unpack("x8 (N N N)$n", $d);
            push @{$t->{stsc}}, [ splice(@v, 0, 3) ] while @v;

        } elsif ($type eq 'stco') {
            my $n = unpack('x4 N', $d);
            _need($self, $d, 8 + 4 * $n, $type);
            $t->{chunks} = [ unpack("x8 N$n", $d) ];

        } elsif ($type eq 'co64') {
            my $n = unpack('x4 N', $d);
            _need($self, $d, 8 + 8 * $n, $type);
            my @v = unpack("x8 (N N)$n", $d);
            $t->{co64} = 1;
            $t->{chunks} = [];
            push @{$t->{chunks}}, shift(@v) * 4294967296 + shift(@v)
                while @v;
        }
    }
}

sub _need {
    my ($self, $d, $len, $type) = @_;

    push @{$self->{errors}}, "$type is " . length($d) . " bytes, needs $len"
        if length($d) != $len;
}

# the sample entry: avc1/hvc1/av01 and its configuration, or mp4a + esds

sub _entry {
    my ($self, $t, $d) = @_;

    my ($size, $codec) = unpack('N a4', $d);
    $t->{codec} = $codec;
    my $body = substr($d, 8, $size - 8);

    if ($codec =~ /^(?:avc1|hvc1|hev1|av01)$/) {
        @{$t}{qw(width height)} = unpack('x24 n n', $body);
        for my $b ($self->_boxes(substr($body, 78), $codec)) {
            $t->{avcC} = $b->[1] if $b->[0] eq 'avcC';
            $t->{config} = $b->[1] if $b->[0] =~ /^(?:avcC|hvcC|av1C)$/;
        }

    } elsif ($codec eq 'mp4a') {
        $t->{channels} = unpack('x16 n', $body);
        $t->{rate} = unpack('x24 N', $body) >> 16;
        for my $b ($self->_boxes(substr($body, 28), 'mp4a')) {
            _esds($t, substr($b->[1], 4)) if $b->[0] eq 'esds';
        }
    }
}

sub _esds {
    my ($t, $d) = @_;

    my $pos = 0;

    my $desc = sub {
        my $tag = unpack('C', substr($d, $pos++, 1));
        my $len = 0;
        for (1 .. 4) {
            my $c = unpack('C', substr($d, $pos++, 1));
            $len = ($len << 7) | ($c & 0x7f);
            last unless $c & 0x80;
        }
        return ($tag, $len);
    };

    my ($tag, $len) = $desc->();
    return unless $tag == 3;
    $pos += 3;
    ($tag, $len) = $desc->();
    return unless $tag == 4;
    my $end = $pos + $len;
    $t->{oti} = unpack('C', substr($d, $pos, 1));
    $t->{max_bitrate} = unpack('N', substr($d, $pos + 5, 4));
    $t->{avg_bitrate} = unpack('N', substr($d, $pos + 9, 4));
    $pos += 13;
    if ($pos < $end) {
        ($tag, $len) = $desc->();
        $t->{asc} = substr($d, $pos, $len) if $tag == 5;
    }
}

sub track {
    my ($self, $handler) = @_;

    my @t = grep { ($_->{handler} // '') eq $handler } @{$self->{tracks}};

    return $t[0];
}

sub top_types {
    my ($self) = @_;

    return join ' ', map { $_->{type} } @{$self->{top}};
}

# each sample's duration, from stts

sub durations {
    my ($self, $t) = @_;

    return map { ($_->[1]) x $_->[0] } @{$t->{stts}};
}

sub stts_sum {
    my ($self, $t) = @_;

    my $sum = 0;
    $sum += $_->[0] * $_->[1] for @{$t->{stts}};

    return $sum;
}

# every sample's [offset, size], from stsc, stco/co64 and stsz

sub sample_ranges {
    my ($self, $t) = @_;

    my @ranges;
    my @stsc = @{$t->{stsc}};
    my $nchunks = @{$t->{chunks}};
    my $s = 0;

    for my $i (0 .. $#stsc) {
        my ($first, $per) = @{$stsc[$i]};
        my $last = $i < $#stsc ? $stsc[$i + 1][0] - 1 : $nchunks;

        for my $c ($first .. $last) {
            my $off = $t->{chunks}[$c - 1];
            for (1 .. $per) {
                return (undef, "stsc names sample " . ($s + 1)
                               . " past stsz") if $s >= @{$t->{sizes}};
                push @ranges, [ $off, $t->{sizes}[$s] ];
                $off += $t->{sizes}[$s++];
            }
        }
    }

    return (\@ranges, $s == @{$t->{sizes}} ? undef
                      : "stsc covers $s of " . @{$t->{sizes}} . " samples");
}

# what a reader needs from a complete file

sub check {
    my ($self) = @_;

    my @e = @{$self->{errors}};
    my $sum = 0;
    $sum += $_->{size} for @{$self->{top}};

    push @e, "boxes cover $sum of $self->{size} bytes"
        if $sum != $self->{size};

    my @types = map { $_->{type} } @{$self->{top}};
    push @e, "first box is '$types[0]', not ftyp"
        unless @types && $types[0] eq 'ftyp';

    my @mdat = grep { $_->{type} eq 'mdat' } @{$self->{top}};
    push @e, scalar(@mdat) . " mdat boxes" if @mdat != 1;
    push @e, ($self->{moovs} // 0) . " moov boxes"
        if ($self->{moovs} // 0) != 1;
    push @e, "no track" unless @{$self->{tracks}};

    return @e unless @mdat == 1;

    my ($lo, $hi) = ($mdat[0]{offset} + $mdat[0]{header},
                     $mdat[0]{offset} + $mdat[0]{size});
    my @all;

    for my $t (@{$self->{tracks}}) {
        my $name = $t->{handler} // '?';
        my $n = $t->{samples};

        push @e, "$name: no samples" unless $n;

        my $stts = 0;
        $stts += $_->[0] for @{$t->{stts}};
        push @e, "$name: stts counts $stts of $n samples" if $stts != $n;

        push @e, "$name: stts has a zero duration"
            if grep { $_->[1] == 0 } @{$t->{stts}};

        if (@{$t->{ctts}}) {
            my $c = 0;
            $c += $_->[0] for @{$t->{ctts}};
            push @e, "$name: ctts counts $c of $n samples" if $c != $n;
        }

        if ($t->{stss}) {
            my $prev = 0;
            for my $k (@{$t->{stss}}) {
                push @e, "$name: stss $k out of order or range"
                    if $k <= $prev || $k > $n;
                $prev = $k;
            }
        }

        push @e, "$name: mdhd duration $t->{duration} is not the stts sum "
                 . $self->stts_sum($t)
            if ($t->{duration} // -1) != $self->stts_sum($t);

        push @e, "$name: stsc does not start at chunk 1"
            if @{$t->{stsc}} && $t->{stsc}[0][0] != 1;

        my ($r, $err) = $self->sample_ranges($t);
        push @e, "$name: $err" if $err;
        push @all, @$r if $r;

        push @e, "$name: no sample entry" unless $t->{codec};
    }

    # every sample inside the mdat's payload, none over another

    my $end = 0;

    for my $r (sort { $a->[0] <=> $b->[0] } @all) {
        if ($r->[0] < $lo || $r->[0] + $r->[1] > $hi) {
            push @e, "a sample at $r->[0] ($r->[1] bytes) is outside "
                     . "the mdat [$lo, $hi)";
            last;
        }

        if ($r->[0] < $end) {
            push @e, "samples overlap at $r->[0]";
            last;
        }

        $end = $r->[0] + $r->[1];
    }

    return @e;
}

1;

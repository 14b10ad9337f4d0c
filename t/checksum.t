#!/usr/bin/perl

# live_record_checksum: with the default (sha256) every index entry has
# the SHA-256 of the file as stored, which Digest::SHA computes here on its
# own; with "off" the field is empty and the files are the same otherwise.

use strict;
use warnings;

use Digest::SHA;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 11;
use LiveRecord::Test;

my $in = make_media(duration => 3);

start_nginx(conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4 flv;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
        }
        application nosum {
            live on;
            live_record t;
            live_record_checksum off;
        }
    }
}
EOF

sub entries {
    my ($app) = @_;
    my @json = wait_files("index/$app", qr/\.json$/, 2);
    my @e;
    for my $path (@json) {
        open my $fh, '<:raw', $path or next;
        local $/;
        push @e, decode_json(<$fh>);
    }
    return @e;
}

is(push_stream($in, rtmp_url('live', 'on')), 0, 'push, checksum on');
is(push_stream($in, rtmp_url('nosum', 'off')), 0, 'push, checksum off');

my @on = entries('live');
my @off = entries('nosum');
is(scalar @on, 2, 'on: an entry for the mp4 and the flv');
is(scalar @off, 2, 'off: an entry for the mp4 and the flv');

for my $e (@on) {
    my $want = Digest::SHA->new(256)->addfile($e->{path} // '', 'b')
                          ->hexdigest;
    is($e->{sha256}, $want, "on: $e->{file_format}: the file's SHA-256");
}

for my $e (@off) {
    is($e->{sha256}, '', "off: $e->{file_format}: no SHA-256");
    ok(-s ($e->{path} // '') == $e->{file_size},
       "off: $e->{file_format}: the file is stored whole");
}

no_alerts();

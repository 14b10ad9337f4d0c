#!/usr/bin/perl

# The suite's S3 server held to what t/lib/s3proxy.py promises, so that a
# lenient double cannot pass the S3 store's tests by accident: requests
# signed with botocore's own signer (t/lib/s3proxy_check.py), each either
# well-formed (passes) or breaking one rule of the S3 API reference
# (refused with S3's status and error code): CompleteMultipartUpload
# without application/xml, malformed, unsorted, with a wrong or missing
# part or a small one; UNSIGNED-PAYLOAD on a POST or GET; a payload hash
# of other bytes; a wrong secret; x-amz-date 16 minutes old; malformed
# Authorization headers (403, not a dropped connection).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use LiveRecord::Test;
use LiveRecord::S3;

need_all('s3rver', 's3rver or its proxy not installed')
    unless LiveRecord::S3::available();

# no nginx here to free the ports port() holds: two of our own

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "no free port: $!";
    return $s->sockport;
}

my $p = prefix();
my ($proxy, $upstream) = (free_port(), free_port());
my $s3 = LiveRecord::S3->start(dir => "$p/s3", log => "$p/proxy.log",
                               tools => "$p/tools.log",
                               proxy => $proxy, port => $upstream,
                               bucket => 'vod');
ok($s3->up, 's3rver and the strict proxy are up');

open my $fh, '-|', '/usr/bin/python3', "$FindBin::Bin/lib/s3proxy_check.py",
    $proxy, 'vod', $LiveRecord::S3::ACCESS, $LiveRecord::S3::SECRET
    or die "s3proxy_check.py: $!";
my ($plan, $n) = (0, 0);
while (my $line = <$fh>) {
    chomp $line;
    if ($line =~ /^(not )?ok \d+ - (.*)/) {
        ok(!$1, $2);
        $n++;
    } elsif ($line =~ /^1\.\.(\d+)/) {
        $plan = $1;
    } else {
        diag($line);
    }
}
close $fh;
is($?, 0, 's3proxy_check.py ran to its end');
ok($plan >= 25 && $plan == $n, "its $plan checks all reported");

$s3->stop;
done_testing();

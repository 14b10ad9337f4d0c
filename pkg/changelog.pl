#!/usr/bin/perl
# changelog.pl CHANGES PACKAGE MAINTAINER: prints CHANGES (nginx's style)
# as a Debian changelog, newest first, one entry per version; each entry's
# date is that of the commit that added its "Changes with" line, or
# SOURCE_DATE_EPOCH (now without it) outside a git checkout.

use strict;
use warnings;
use POSIX qw(strftime);

my ($changes, $package, $maintainer) = @ARGV;
die "usage: $0 CHANGES PACKAGE MAINTAINER\n" unless $maintainer;

open my $fh, '<', $changes or die "$changes: $!\n";
my (@entries, $open);
while (my $line = <$fh>) {
    chomp $line;
    if ($line =~ /^Changes with ngx_live_record (\S+)/) {
        push @entries, { version => $1, items => [] };
        $open = 0;
    } elsif ($line =~ /^\s+\*\)\s+(.*)$/ && @entries) {
        push @{ $entries[-1]{items} }, $1;
        $open = 1;
    } elsif ($line =~ /^\s+(\S.*)$/ && $open) {
        $entries[-1]{items}[-1] .= " $1";
    } else {
        $open = 0;
    }
}
close $fh;

my $dir = $changes =~ m{^(.*)/} ? $1 : '.';

sub date_of {
    my ($version) = @_;
    my $t = `git -C '$dir' log --reverse --format=%at \\
             -S 'Changes with ngx_live_record $version' -- CHANGES 2>/dev/null`;
    ($t) = $t =~ /^(\d+)/;
    $t //= $ENV{SOURCE_DATE_EPOCH} // time;
    return strftime('%a, %d %b %Y %H:%M:%S +0000', gmtime $t);
}

sub wrap {
    my ($text) = @_;
    my @out;
    my $line = '  *';
    for my $word (split ' ', $text) {
        if (length($line) + 1 + length($word) > 78 && $line =~ /\S\s*\S/) {
            push @out, $line;
            $line = '   ';
        }
        $line .= " $word";
    }
    push @out, $line;
    return join("\n", @out) . "\n";
}

for my $e (@entries) {
    print "$package ($e->{version}) unstable; urgency=medium\n\n";
    print wrap($_) for @{ $e->{items} };
    print "\n -- $maintainer  " . date_of($e->{version}) . "\n\n";
}

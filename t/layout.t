#!/usr/bin/perl

# The house rules of the source tree (docs/architecture.md): dependencies
# between folders run one way, http -> record -> store -> cluster ->
# notify -> core -> segmenter -> mux, so an #include may name a header of
# its own folder or of a lower one, never of a higher one; every source file stays under
# 1500 lines; every folder says what it holds in a README.md; and config
# builds every .c file there is.  No nginx is started.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(basename dirname);
use FindBin;
use Test::More;

my $top = abs_path("$FindBin::Bin/..");

# lowest first; the root's three files each sit at their own level
my @levels = (
    [ 'mux',       'mux/*' ],
    [ 'segmenter', 'ngx_live_record_segmenter.*' ],
    [ 'core',      'core/*' ],
    [ 'notify',    'ngx_live_record_notify.*' ],
    [ 'cluster',   'cluster/*' ],
    [ 'store',     'store/*' ],
    [ 'record',    'record/*' ],
    [ 'http',      'http/*' ],
    [ 'module',    'ngx_live_record_module.c' ],
);

my (%level, %room, %header_of);

for my $i (0 .. $#levels) {
    my ($name, $glob) = @{ $levels[$i] };

    for my $file (glob "$top/$glob") {
        next unless $file =~ /\.[ch]$/;
        my $rel = substr($file, length($top) + 1);
        $level{$rel} = $i;
        $room{$rel} = $name;
        $header_of{ basename($rel) } = $rel if $rel =~ /\.h$/;
    }
}

my @sources = sort keys %level;
my @stray = grep { !exists $level{$_} }
            map { substr($_, length($top) + 1) }
            glob("$top/*.[ch]");

plan tests => 4 + @sources;

ok(@sources > 20, 'the sources are found (' . @sources . ')');
is("@stray", '', 'no source file in the root but the design\'s own');

for my $rel (@sources) {
    open my $fh, '<', "$top/$rel" or die "$rel: $!";
    my @lines = <$fh>;
    close $fh;

    my @up;

    for my $n (0 .. $#lines) {
        next unless $lines[$n] =~ /^#\s*include\s+"([^"]+)"/;
        my $to = $header_of{$1} or next;     # nginx's, rtmp's, generated
        next if $level{$to} <= $level{$rel};
        push @up, "$rel:" . ($n + 1) . " includes $to"
                  . " ($room{$rel} -> $room{$to})";
    }

    ok(!@up && @lines <= 1500,
       "$rel: " . scalar(@lines) . " lines, includes point down")
        or diag(join "\n", @up,
                @lines > 1500 ? ("$rel has more than 1500 lines") : ());
}

my @folders = grep { -d "$top/$_" } qw(mux core cluster store record http);
my @bare = grep { !-f "$top/$_/README.md" } @folders;

is("@bare", '', 'every folder has a README.md (' . "@folders" . ')');

open my $cfg, '<', "$top/config" or die "config: $!";
my $config = do { local $/; <$cfg> };
close $cfg;

my @unbuilt = grep { /\.c$/ && $config !~ /\b\Q${\ basename($_, '.c')}\E\b/ }
              @sources;

is("@unbuilt", '', 'config builds every .c file');

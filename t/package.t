#!/usr/bin/perl

# make deb: the package's name, fields and files are exactly what Debian's
# nginx module packages have (the .so, the modules-available snippet, docs
# with copyright and changelog.gz), it depends on the installed nginx's ABI,
# on libnginx-mod-rtmp and on the package of every library the .so needs;
# lintian finds no error or warning; the maintainer scripts link the
# snippet after 50-mod-rtmp.conf and keep an admin's removal; and nginx,
# loading the unpacked .so through modules-enabled/*.conf as Debian's
# nginx.conf does, logs the version, serves it in the metrics and records
# a push.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Cwd qw(abs_path);
use File::Path qw(make_path);
use HTTP::Tiny;
use Test::More tests => 27;
use LiveRecord::Test;

my $top = "$FindBin::Bin/..";
my $pkg = 'libnginx-mod-live-record';
my $p = prefix();

sub run {
    my (@cmd) = @_;
    my $out = `@cmd 2>&1`;
    return ($? >> 8, $out);
}

my ($version) = slurp("$top/VERSION") =~ /^(\S+)/;
chomp(my $arch = `dpkg --print-architecture`);
my ($abi) = `dpkg-query -W -f '\${Provides}' nginx` =~ /(nginx-abi-[^\s,]+)/;
chomp(my $rtmp = `dpkg-query -W -f '\${Version}' libnginx-mod-rtmp`);

my ($rc, $out) = run("make -C $top --no-print-directory -s deb");
is($rc, 0, 'make deb') or diag $out;
my ($deb) = $out =~ m{^(/\S+\.deb)$}m;
is($deb, abs_path($top) . "/build/${pkg}_${version}_$arch.deb",
   'named PACKAGE_VERSION_ARCH.deb in build/');

# the fields
my %f;
($rc, $out) = run("dpkg-deb -f $deb");
for (split /\n(?=\S)/, $out) {
    $f{$1} = $2 if /^([\w-]+): (.*)$/s;
}
is_deeply([ @f{qw(Package Version Architecture Section Priority)} ],
          [ $pkg, $version, $arch, 'httpd', 'optional' ], 'control fields');
like($f{Maintainer} // '', qr/^[^<>]+ <[^<>\s]+\@[^<>\s]+>$/, 'maintainer');
like($f{Description} // '', qr/^records live RTMP broadcasts .*\n \S/,
     'description with an extended part');

# Depends: the ABI, rtmp, then one package per library the .so needs,
# found here through ldconfig and dpkg -S (not through dpkg-shlibdeps)
my @depends = split /, /, $f{Depends} // '';
is_deeply([ @depends[0, 1] ],
          [ $abi, "libnginx-mod-rtmp (>= $rtmp)" ],
          "Depends: $abi and libnginx-mod-rtmp first");
my %want;
for my $lib (`objdump -p $top/build/ngx_live_record_module.so`
             =~ /NEEDED\s+(\S+)/g)
{
    my ($path) = `ldconfig -p` =~ /^\s+\Q$lib\E \(libc6,x86-64\) => (\S+)$/m;
    # merged /usr: dpkg may know the file under either name
    my $owner;
    for my $name ($path, "/usr$path", $path =~ s{^/usr/}{/}r) {
        ($owner) = `dpkg -S $name 2>/dev/null` =~ /^([^:\s]+)/;
        last if $owner;
    }
    $want{$owner // "?$lib"} = 1;
}
my %got = map { /^(\S+) \(>= [^)]+\)$/ ? ($1 => 1) : ("bad: $_" => 1) }
          @depends[2 .. $#depends];
is_deeply(\%got, \%want, 'Depends: the library packages, versioned')
    or diag $f{Depends};

# the files, with modes and owners
my @docs = map { my $gz = -s $_ > 4096 ? '.gz' : ''; s{.*/}{}; "$_$gz" }
           ("$top/README.md", glob "$top/docs/*.md");
my $doc = "usr/share/doc/$pkg";
my %expect = map { ($_ => 'drwxr-xr-x') }
    qw(. usr usr/lib usr/lib/nginx usr/lib/nginx/modules usr/share
       usr/share/doc usr/share/nginx usr/share/nginx/modules-available),
    $doc;
$expect{$_} = '-rw-r--r--' for
    'usr/lib/nginx/modules/ngx_live_record_module.so',
    'usr/share/nginx/modules-available/mod-live-record.conf',
    "$doc/copyright", "$doc/changelog.gz", map { "$doc/$_" } @docs;
my %listed;
($rc, $out) = run("dpkg-deb -c $deb");
for (split /\n/, $out) {
    my ($mode, $owner, $path) = /^(\S+) (\S+)\s+\d+ \S+ \S+ \.\/(\S*?)\/?$/
        or next;
    $listed{$path eq '' ? '.' : $path} = "$mode" . ($owner eq 'root/root'
                                                    ? '' : " $owner");
}
is_deeply(\%listed, \%expect, 'files, modes, root/root')
    or diag $out;

my $root = "$p/root";
($rc, $out) = run("dpkg-deb -x $deb $root && dpkg-deb -e $deb $p/DEBIAN");
is($rc, 0, 'dpkg-deb -x, -e') or diag $out;
is(slurp("$root/usr/share/nginx/modules-available/mod-live-record.conf"),
   "load_module modules/ngx_live_record_module.so;\n",
   'the snippet loads modules/ngx_live_record_module.so');
like(slurp("$root/$doc/copyright"), qr/\AFormat: https:\/\/www\.debian/,
     'machine-readable copyright');
($rc, $out) = run("zcat $root/$doc/changelog.gz");
like($out, qr/\A\Q$pkg\E \(\Q$version\E\) unstable; urgency=medium\n\n  \* /,
     'changelog.gz: Debian format, this version first');
($rc, $out) = run("dpkg-parsechangelog -l $root/$doc/changelog.gz "
                  . "-S Version 2>&1");
is($out, "$version\n", 'dpkg-parsechangelog reads the version');
is(-s "$root/usr/lib/nginx/modules/ngx_live_record_module.so"
   < -s "$top/build/ngx_live_record_module.so" ? 'stripped' : 'not',
   'stripped', 'the .so is stripped');

# lintian: no error, no warning; info tags only those known (README.md)
($rc, $out) = run("lintian --pedantic --display-info $deb");
my @tags = sort map { /^(\w): \Q$pkg\E: (\S+)/ ? "$1: $2" : () }
           split /\n/, $out;
is($rc, 0, 'lintian exits 0') or diag $out;
is_deeply(\@tags, [ 'I: hardening-no-bindnow',
                    'I: hardening-no-fortify-functions' ],
          'lintian: no errors or warnings') or diag $out;

# the maintainer scripts, run on a private /etc/nginx (dpkg-trigger
# replaced by a log line)
my $etc = "$p/etc/nginx";
my $avail = "$root/usr/share/nginx/modules-available";
make_path("$etc/modules-enabled");
symlink('/usr/share/nginx/modules-available/mod-rtmp.conf',
        "$etc/modules-enabled/50-mod-rtmp.conf") or die "symlink: $!";
for my $s (qw(postinst prerm postrm)) {
    my $text = slurp("$p/DEBIAN/$s");
    $text =~ s{/etc/nginx/}{$etc/}g;
    $text =~ s{/usr/share/nginx/modules-available/}{$avail/}g;
    $text =~ s{dpkg-trigger --no-await (\S+)}{echo \$1 $1 >> $p/triggers}g;
    open my $fh, '>', "$p/$s" or die "$s: $!";
    print $fh $text;
    close $fh;
}
my $link = "$etc/modules-enabled/60-mod-live-record.conf";
sub enabled { join ' ', map { s{.*/}{}r } glob "$etc/modules-enabled/*" }

system("sh $p/postinst configure");
is(readlink($link), "$avail/mod-live-record.conf",
   'postinst configure: 60-mod-live-record.conf links the snippet');
is(enabled(), '50-mod-rtmp.conf 60-mod-live-record.conf',
   'after 50-mod-rtmp.conf in glob order');
unlink $link;
system("sh $p/postinst configure 0.2.0");
is(enabled(), '50-mod-rtmp.conf', 'an upgrade keeps the admin\'s removal');
system("sh $p/postinst configure");
system("sh $p/prerm remove; sh $p/postrm remove");
is(enabled(), '50-mod-rtmp.conf 60-mod-live-record.conf.removed',
   'remove keeps the link as .removed');
system("sh $p/postinst configure $version");
system("sh $p/prerm remove; sh $p/postrm purge");
is(enabled(), '50-mod-rtmp.conf', 'purge drops it');
system("sh $p/postinst configure");
is(slurp("$p/triggers"), "configure nginx-reload\n" x 3
   . "remove nginx-reload\n" . "configure nginx-reload\n" x 2,
   'nginx-reload triggered at configure and remove');

# nginx with the packaged .so, loaded as Debian's nginx.conf does; the
# prefix's modules/ is /usr/share/nginx/modules of the unpacked tree
make_path("$p/modules");
symlink('/usr/lib/nginx/modules/ngx_rtmp_module.so',
        "$p/modules/ngx_rtmp_module.so") or die "symlink: $!";
symlink("$root/usr/lib/nginx/modules/ngx_live_record_module.so",
        "$p/modules/ngx_live_record_module.so") or die "symlink: $!";

start_nginx(modules => "include $etc/modules-enabled/*.conf;\n",
            conf => <<'EOF');
rtmp {
    live_record_template t { live_record_formats mp4; }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live { live on; live_record t; }
    }
}
http {
    server {
        listen 127.0.0.1:%%PORT_HTTP%%;
        location = /metrics { live_record_metrics; }
    }
}
EOF

my ($nginx) = `nginx -v 2>&1` =~ m{nginx/(\S+)};
my ($lavf) = `ffprobe -version` =~ /^libavformat\s+(\d+)\.\s*(\d+)\.\s*(\d+)/m
    ? "$1.$2.$3" : ('?');
my $started = "live record: ngx_live_record/$version (nginx/$nginx, "
              . "libavformat $lavf)";
is(scalar(log_lines(qr/\[notice\] .*\Q$started\E$/)), 1,
   'the version logged at start (notice)');

my $r = HTTP::Tiny->new(timeout => 10)
    ->get('http://127.0.0.1:' . port('HTTP') . '/metrics');
my @info = $r->{content} =~ /^(live_record_build_info\{.*)$/mg;
is_deeply(\@info, [ "live_record_build_info{version=\"$version\","
                    . "nginx=\"$nginx\",libavformat=\"$lavf\"} 1" ],
          'live_record_build_info');

my $in = make_media(duration => 4);
is(push_stream($in, rtmp_url('live', 'pkg')), 0, 'push');
my @mp4 = wait_files('store', qr/\.mp4$/, 1, 30);
ok(@mp4 == 1 && probe_ok($mp4[0]), 'recorded by the packaged module');

no_alerts();

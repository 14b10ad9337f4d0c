# ngx_live_record: build, run and test targets.
#
#   make deps    install the Debian packages and nginx-rtmp's source (idempotent)
#   make         build build/ngx_live_record_module.so against Debian's nginx
#   make run     build, then start nginx with conf/example.conf on loopback;
#                RTMP_PORT=1935 HTTP_PORT=8080 pick other ports
#   make push    push a generated 10 s test clip (ffmpeg lavfi) to it
#   make stop    stop the nginx started by `make run`
#   make install install the module as Debian lays nginx modules out, under
#                DESTDIR if set, enabled after nginx-rtmp (60-mod-live-record)
#   make deb     build build/libnginx-mod-live-record_VERSION_ARCH.deb (pkg/)
#   make test    build, then run the test suite (prove t/)
#   make test-asan  the suite with the module built with ASan and UBSan
#   make valgrind    one record/handoff/notify cycle under valgrind memcheck
#   make bench   build, then run the benchmark; rewrites docs/benchmarks.md
#   make mutate  scripts/mutate.sh: each mutation in scripts/mutations.txt
#                on a scratch build must fail the tests it names (not part
#                of make test)
#   make layout  check that includes point down the folders and files stay
#                under 1500 lines (t/layout.t, also part of make test)

SHELL   := /bin/bash
TOP     := $(CURDIR)
BUILD   := $(TOP)/build
NGX_SRC ?= /usr/share/nginx/src
MODULE  := $(BUILD)/ngx_live_record_module.so
CONSOLE := $(BUILD)/console/ngx_http_live_record_console_assets.h
HLS_JS  := $(BUILD)/tools/node_modules/hls.js/dist/hls.min.js
FOLDERS := mux core cluster store record http
SOURCES := config $(wildcard $(TOP)/*.c $(TOP)/*.h) \
           $(foreach d,$(FOLDERS),$(wildcard $(TOP)/$(d)/*.c $(TOP)/$(d)/*.h)) \
           $(CONSOLE)

export NGX_RTMP_SRC ?= $(BUILD)/rtmp

.PHONY: all deps build run stop test test-asan valgrind bench clean fuzz \
        mutate \
        layout install deb push

all: build

build: $(MODULE)

deps:
	@$(TOP)/scripts/deps.sh

$(BUILD)/ngx/Makefile: config VERSION $(BUILD)/rtmp/ngx_rtmp.h | $(CONSOLE)
	@mkdir -p $(BUILD)/ngx
	cd $(NGX_SRC) && . ./conf_flags && ./configure \
	    --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC $$(dpkg-buildflags --get CPPFLAGS)" \
	    --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC" \
	    "$${NGX_CONF_FLAGS[@]}" \
	    --add-dynamic-module=$(TOP) \
	    --builddir=$(BUILD)/ngx > $(BUILD)/configure.log 2>&1 \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }

$(BUILD)/rtmp/ngx_rtmp.h:
	@$(TOP)/scripts/deps.sh

# the web console (console/ and hls.js) compiled into the module
$(CONSOLE): $(TOP)/scripts/console-assets.pl $(wildcard $(TOP)/console/*) \
            $(HLS_JS)
	perl $(TOP)/scripts/console-assets.pl $@ \
	    $(wildcard $(TOP)/console/*) $(HLS_JS)

$(HLS_JS):
	@$(TOP)/scripts/deps.sh

$(MODULE): $(BUILD)/ngx/Makefile $(SOURCES)
	$(MAKE) -f $(BUILD)/ngx/Makefile -C $(NGX_SRC) modules
	cp $(BUILD)/ngx/ngx_live_record_module.so $(MODULE).tmp
	mv $(MODULE).tmp $(MODULE)

run: deps build
	@$(TOP)/scripts/run.sh

stop:
	@$(TOP)/scripts/run.sh stop

push:
	@$(TOP)/scripts/run.sh push

# where Debian's nginx and libnginx-mod-* keep modules and their snippets
NGX_MODULES := /usr/lib/nginx/modules
NGX_SHARE   := /usr/share/nginx

install: build
	install -d $(DESTDIR)$(NGX_MODULES) $(DESTDIR)$(NGX_SHARE)/modules-available \
	    $(DESTDIR)/etc/nginx/modules-enabled
	install -m 0644 $(MODULE) $(DESTDIR)$(NGX_MODULES)/
	install -m 0644 $(TOP)/pkg/mod-live-record.conf \
	    $(DESTDIR)$(NGX_SHARE)/modules-available/
	ln -sfn $(NGX_SHARE)/modules-available/mod-live-record.conf \
	    $(DESTDIR)/etc/nginx/modules-enabled/60-mod-live-record.conf

deb: build
	@$(TOP)/pkg/build-deb.sh $(TOP) $(BUILD)

test: deps build
	prove -r -j2 t/

# the same build with AddressSanitizer and UndefinedBehaviorSanitizer;
# Debian's nginx is not instrumented, so libasan is preloaded into it, and
# any report lands in the error log, which every test checks

ASAN    := $(BUILD)/asan
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer

$(ASAN)/Makefile: config VERSION $(BUILD)/rtmp/ngx_rtmp.h | $(CONSOLE)
	@mkdir -p $(ASAN)
	cd $(NGX_SRC) && . ./conf_flags && ./configure \
	    --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC $$(dpkg-buildflags --get CPPFLAGS) $(SANITIZE)" \
	    --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC $(SANITIZE)" \
	    "$${NGX_CONF_FLAGS[@]}" \
	    --add-dynamic-module=$(TOP) \
	    --builddir=$(ASAN) > $(BUILD)/configure-asan.log 2>&1 \
	    || { tail -20 $(BUILD)/configure-asan.log; exit 1; }

$(ASAN)/ngx_live_record_module.so: $(ASAN)/Makefile $(SOURCES)
	$(MAKE) -f $(ASAN)/Makefile -C $(NGX_SRC) modules

test-asan: deps $(ASAN)/ngx_live_record_module.so
	LIVE_RECORD_MODULE=$(ASAN)/ngx_live_record_module.so \
	LIVE_RECORD_PRELOAD=$$(gcc -print-file-name=libasan.so) \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1 \
	prove -r -j2 t/

layout:
	prove t/layout.t

valgrind: deps build
	@$(TOP)/scripts/valgrind.sh

bench: deps build
	$(TOP)/bench/run.sh

clean:
	rm -rf $(BUILD)/ngx $(MODULE) $(BUILD)/configure.log

# make fuzz    build build/fuzz/fuzz_tag (clang: libFuzzer, ASan, UBSan), seed
#              it from ffmpeg output and fuzz the codec parsers for
#              FUZZ_SECONDS (default 60); see fuzz/README.md
FUZZ_SECONDS ?= 60

fuzz: | $(BUILD)/ngx/Makefile
	@$(TOP)/fuzz/deps.sh
	@FUZZ_SECONDS=$(FUZZ_SECONDS) NGX_SRC=$(NGX_SRC) $(TOP)/fuzz/run.sh

mutate: build
	@$(TOP)/scripts/mutate.sh

# mod_api_oauth2 — build, test, run. See README.md.

APXS        ?= apxs
CC          ?= gcc
PKGS        := libcurl jansson libmemcached libcrypto cjose
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lmemcachedutil -lgdbm
WARN        := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wno-unused-parameter
EXTRA_CFLAGS ?= -O2
# Linker flags for the module, as gcc takes them (-Wl,-z,relro ...): the
# Debian package passes dpkg-buildflags' LDFLAGS here.
EXTRA_LDFLAGS ?=
SRCS        := mod_api_oauth2.c $(wildcard src/*.c)
HDRS        := $(wildcard src/*.h)

# Build flavours. Each has its own output, so one never loads another's:
#   plain  .libs/mod_api_oauth2.so, t/unit/run (the paths tests and scripts use)
#   asan   build/asan/.libs/mod_api_oauth2.so, build/asan/unit-run
#          (tools/test.sh AO2_ASAN=1 puts them in its run copy)
# and each records its compiler flags in build/<flavour>.flags, rewritten
# only when they change, so changed flags (EXTRA_CFLAGS=...) rebuild too.
MODULE      := .libs/mod_api_oauth2.so
ASAN_DIR    := build/asan
ASAN_MODULE := $(ASAN_DIR)/.libs/mod_api_oauth2.so
ASAN_UNIT   := $(ASAN_DIR)/unit-run
ASAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined
MODULE_CFLAGS = $(WARN) $(EXTRA_CFLAGS) $(PKG_CFLAGS)
UNIT_CFLAGS   = $(WARN) -g -O1 $(EXTRA_CFLAGS) $(APR_CFLAGS) $(PKG_CFLAGS)

# Pure-C parts, unit-tested without httpd.
UNIT_SRCS   := src/ao2_err.c src/ao2_crypto.c src/ao2_json.c src/ao2_oauth2.c \
               src/ao2_record.c src/ao2_params.c src/ao2_cache_table.c \
               src/ao2_verdict.c src/ao2_pathcheck.c src/ao2_validate.c src/ao2_jose.c src/ao2_metadata.c \
               src/ao2_lock.c src/ao2_gate.c src/ao2_jwt.c src/ao2_keyfilter.c src/ao2_metrics.c \
               src/ao2_revlog.c src/ao2_journal.c src/ao2_dbm_read.c src/ao2_memo.c
APR_CFLAGS  := $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null) \
               $(shell apu-1-config --includes 2>/dev/null)
APR_LIBS    := $(shell apr-1-config --link-ld --libs 2>/dev/null) \
               $(shell apu-1-config --link-ld 2>/dev/null)

.PHONY: all deps test unit run asan asan-build valgrind format format-check clean faults \
        clean-module configtest bench fuzz FORCE install uninstall

# make install [DESTDIR=/scratch]: the module where apxs says modules go, the
# a2enmod files in mods-available (the .load names the installed .so), the
# state directory. Without DESTDIR, as root, the state directory belongs to
# the run user of /etc/apache2/envvars (www-data); with DESTDIR only its mode
# is set (a staging tree is packed by someone else, e.g. debian/postinst).
LIBEXECDIR  ?= $(shell $(APXS) -q LIBEXECDIR 2>/dev/null)
A2CONFDIR   ?= /etc/apache2
STATEDIR    ?= /var/lib/apache2/api_oauth2
RUN_USER    ?= $(shell [ -r $(A2CONFDIR)/envvars ] && . $(A2CONFDIR)/envvars; echo $${APACHE_RUN_USER:-www-data})
RUN_GROUP   ?= $(shell [ -r $(A2CONFDIR)/envvars ] && . $(A2CONFDIR)/envvars; echo $${APACHE_RUN_GROUP:-www-data})

comma := ,

all: $(MODULE)

# $(call flags_stamp,FLAGS): a file holding FLAGS, touched only when they differ.
define flags_stamp
	@mkdir -p $(@D)
	@printf '%s\n' '$(strip $(1))' >$@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi
endef

build/plain.flags: FORCE
	$(call flags_stamp,$(APXS) $(MODULE_CFLAGS) $(EXTRA_LDFLAGS) | $(CC) $(UNIT_CFLAGS))

build/asan.flags: FORCE
	$(call flags_stamp,$(APXS) $(MODULE_CFLAGS) $(ASAN_CFLAGS) | $(CC) $(UNIT_CFLAGS) $(ASAN_CFLAGS))

# apxs compiles every source it is given (no timestamps): objects left by
# another flavour are never reused.
$(MODULE): $(SRCS) $(HDRS) build/plain.flags
	$(APXS) -c -o mod_api_oauth2.la \
	    -Wc,"$(MODULE_CFLAGS) -Isrc" $(addprefix -Wl$(comma),$(EXTRA_LDFLAGS)) \
	    $(SRCS) $(PKG_LIBS) >build.log 2>&1 || { cat build.log; exit 1; }
	@grep -E '(warning|error):' build.log || true

# libtool puts objects next to their sources, so the asan flavour builds
# from a copy of the sources in its own directory.
$(ASAN_MODULE): $(SRCS) $(HDRS) build/asan.flags
	rm -rf $(ASAN_DIR)/src $(ASAN_DIR)/.libs $(ASAN_DIR)/*.la $(ASAN_DIR)/*.lo $(ASAN_DIR)/*.slo $(ASAN_DIR)/*.o
	mkdir -p $(ASAN_DIR)/src
	cp mod_api_oauth2.c $(ASAN_DIR)/
	cp $(wildcard src/*.c) $(HDRS) $(ASAN_DIR)/src/
	cd $(ASAN_DIR) && $(APXS) -c -o mod_api_oauth2.la \
	    -Wc,"$(MODULE_CFLAGS) $(ASAN_CFLAGS) -Isrc" \
	    $(SRCS) $(PKG_LIBS) >build.log 2>&1 || { cat build.log; exit 1; }
	@grep -E '(warning|error):' $(ASAN_DIR)/build.log || true

deps:
	@tools/deps.sh

install: $(MODULE)
	@test -n "$(LIBEXECDIR)" || { echo "make install: apxs -q LIBEXECDIR gave nothing (apache2-dev missing?)" >&2; exit 1; }
	install -d -m 0755 $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(A2CONFDIR)/mods-available
	install -m 0644 $(MODULE) $(DESTDIR)$(LIBEXECDIR)/mod_api_oauth2.so
	sed 's|^LoadModule api_oauth2_module .*|LoadModule api_oauth2_module $(LIBEXECDIR)/mod_api_oauth2.so|' \
	    conf/api_oauth2.load >$(DESTDIR)$(A2CONFDIR)/mods-available/api_oauth2.load
	chmod 0644 $(DESTDIR)$(A2CONFDIR)/mods-available/api_oauth2.load
	install -m 0644 conf/api_oauth2.conf $(DESTDIR)$(A2CONFDIR)/mods-available/api_oauth2.conf
	install -d -m 0700 $(DESTDIR)$(STATEDIR)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then \
	    echo "chown $(RUN_USER):$(RUN_GROUP) $(STATEDIR)"; \
	    chown $(RUN_USER):$(RUN_GROUP) $(STATEDIR) && chmod 0700 $(STATEDIR); \
	elif [ -z "$(DESTDIR)" ]; then \
	    echo "make install: not root: $(STATEDIR) is not given to $(RUN_USER)" >&2; \
	fi
	@echo "installed; enable with: a2enmod api_oauth2"

# Keeps the state directory when it holds anything (token records, a
# generated key): remove it by hand once it is no longer wanted.
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -e $(A2CONFDIR)/mods-enabled/api_oauth2.load ] && command -v a2dismod >/dev/null; then \
	    echo "a2dismod -q api_oauth2"; a2dismod -q api_oauth2; \
	fi
	rm -f $(DESTDIR)$(LIBEXECDIR)/mod_api_oauth2.so \
	      $(DESTDIR)$(A2CONFDIR)/mods-available/api_oauth2.load \
	      $(DESTDIR)$(A2CONFDIR)/mods-available/api_oauth2.conf
	@if [ -d $(DESTDIR)$(STATEDIR) ]; then \
	    rmdir $(DESTDIR)$(STATEDIR) 2>/dev/null && echo "removed $(DESTDIR)$(STATEDIR)" || \
	    echo "kept $(DESTDIR)$(STATEDIR) (not empty: token records, key)"; \
	fi

t/unit/run: $(UNIT_SRCS) $(wildcard t/unit/*.c t/unit/*.h) $(HDRS) build/plain.flags
	$(CC) $(UNIT_CFLAGS) -Isrc \
	    -o $@ $(wildcard t/unit/*.c) $(UNIT_SRCS) $(APR_LIBS) $(PKG_LIBS)

$(ASAN_UNIT): $(UNIT_SRCS) $(wildcard t/unit/*.c t/unit/*.h) $(HDRS) build/asan.flags
	@mkdir -p $(@D)
	$(CC) $(UNIT_CFLAGS) $(ASAN_CFLAGS) -Isrc \
	    -o $@ $(wildcard t/unit/*.c) $(UNIT_SRCS) $(APR_LIBS) $(PKG_LIBS)

unit: t/unit/run
	t/unit/run

# Loads the module into a tiny httpd config: catches a missing -l library,
# which the build cannot (ap_*/apr_* come from httpd at load time).
configtest: $(MODULE)
	@tools/loadcheck.sh $(MODULE)

# CI=true or AO2_SYSTEM_CHECK=1 / AO2_PACKAGE_CHECK=1 add the checks that
# change this machine's system (root; Debian's apache2 is installed into and
# restored): the README's install steps, the Debian package.
test: deps
	$(MAKE) format-check clean-module all t/unit/run configtest
	tools/test.sh
	@if [ "$${CI:-}" = true ] || [ "$${AO2_SYSTEM_CHECK:-0}" = 1 ]; then tools/system-check.sh; fi
	@if [ "$${CI:-}" = true ] || [ "$${AO2_PACKAGE_CHECK:-0}" = 1 ]; then tools/package-check.sh; fi

# The suite against the asan flavour; the plain build is left alone.
asan: deps asan-build
	AO2_ASAN=1 tools/test.sh

asan-build: $(ASAN_MODULE) $(ASAN_UNIT)

# The suite with httpd under valgrind (slow: a few minutes).
valgrind: deps all t/unit/run
	tools/valgrind.sh

# libFuzzer on every parser, FUZZ_SECONDS each (11 harnesses: about 2.5 min
# with the build; CI runs this).
FUZZ_SECONDS ?= 12
fuzz: deps
	t/fuzz/run.sh $(FUZZ_SECONDS)

run: deps all
	tools/run-demo.sh

# Fault scenarios at full size (t/faults; make test runs them small).
faults: deps all t/unit/run
	tools/faults.sh

bench: deps all
	tools/bench.sh

format:
	clang-format -i mod_api_oauth2.c src/*.c src/*.h t/unit/*.c t/unit/*.h

format-check:
	clang-format --dry-run --Werror mod_api_oauth2.c src/*.c src/*.h t/unit/*.c t/unit/*.h

clean-module:
	rm -rf .libs src/.libs *.la *.lo *.slo *.o src/*.la src/*.lo src/*.slo src/*.o

clean: clean-module
	rm -rf build
	rm -f t/unit/run build.log
	rm -rf t/logs t/htdocs/index.html t/conf/apache_test_config.pm t/conf/httpd.conf \
	       t/conf/extra.conf t/conf/modperl_inc.pl t/var

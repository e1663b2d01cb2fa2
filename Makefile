# mod_api_oauth2 — build, test, run. See README.md.

APXS        ?= apxs
CC          ?= gcc
PKGS        := libcurl jansson libmemcached libcrypto
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lmemcachedutil
WARN        := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wno-unused-parameter
EXTRA_CFLAGS ?= -O2
MODULE      := .libs/mod_api_oauth2.so
SRCS        := mod_api_oauth2.c $(wildcard src/*.c)
HDRS        := $(wildcard src/*.h)

# Pure-C parts, unit-tested without httpd.
UNIT_SRCS   := src/ao2_err.c src/ao2_crypto.c src/ao2_json.c src/ao2_oauth2.c \
               src/ao2_record.c src/ao2_params.c src/ao2_cache_table.c \
               src/ao2_verdict.c
APR_CFLAGS  := $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null) \
               $(shell apu-1-config --includes 2>/dev/null)
APR_LIBS    := $(shell apr-1-config --link-ld --libs 2>/dev/null) \
               $(shell apu-1-config --link-ld 2>/dev/null)

.PHONY: all deps test unit run asan valgrind format format-check clean configtest bench

all: $(MODULE)

$(MODULE): $(SRCS) $(HDRS)
	$(APXS) -c -o mod_api_oauth2.la \
	    -Wc,"$(WARN) $(EXTRA_CFLAGS) $(PKG_CFLAGS) -Isrc" \
	    $(SRCS) $(PKG_LIBS) >build.log 2>&1 || { cat build.log; exit 1; }
	@grep -E '(warning|error):' build.log || true

deps:
	@tools/deps.sh

t/unit/run: $(UNIT_SRCS) $(wildcard t/unit/*.c t/unit/*.h) $(HDRS)
	$(CC) $(WARN) -g -O1 $(EXTRA_CFLAGS) $(APR_CFLAGS) $(PKG_CFLAGS) -Isrc \
	    -o $@ $(wildcard t/unit/*.c) $(UNIT_SRCS) $(APR_LIBS) $(PKG_LIBS)

unit: t/unit/run
	t/unit/run

# Loads the module into a tiny httpd config: catches a missing -l library,
# which the build cannot (ap_*/apr_* come from httpd at load time).
configtest: $(MODULE)
	@tools/loadcheck.sh $(MODULE)

test: deps
	$(MAKE) format-check clean-module all t/unit/run configtest
	tools/test.sh

asan: deps
	$(MAKE) clean-module
	$(MAKE) all t/unit/run EXTRA_CFLAGS="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
	AO2_ASAN=1 tools/test.sh

# The suite with httpd under valgrind (slow: a few minutes).
valgrind: deps all t/unit/run
	tools/valgrind.sh

run: deps all
	tools/run-demo.sh

bench: deps all
	tools/bench.sh

format:
	clang-format -i mod_api_oauth2.c src/*.c src/*.h t/unit/*.c t/unit/*.h

format-check:
	clang-format --dry-run --Werror mod_api_oauth2.c src/*.c src/*.h t/unit/*.c t/unit/*.h

clean-module:
	rm -rf .libs src/.libs *.la *.lo *.slo *.o src/*.la src/*.lo src/*.slo src/*.o

clean: clean-module
	rm -f t/unit/run build.log
	rm -rf t/logs t/htdocs/index.html t/conf/apache_test_config.pm t/conf/httpd.conf \
	       t/conf/extra.conf t/conf/modperl_inc.pl t/var

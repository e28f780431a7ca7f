# glm-free-api. `make` builds build/release/glm-free-api; `make run` installs
# what is missing, builds and serves on :8000; `make test` builds everything
# with ASan+UBSan under build/asan and runs every test.
PROG    := glm-free-api
VERSION := 0.1.0
BUILD   ?= release
O       := build/$(BUILD)
PKGS    := libevent libcurl jansson libcrypto sqlite3 hiredis
PREFIX  ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR  ?= $(PREFIX)/share/doc/$(PROG)

CC      ?= cc
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wwrite-strings
CFLAGS_release := -O2 -g
CFLAGS_debug   := -O0 -g
CFLAGS_asan    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                  -fno-sanitize-recover=all
LDFLAGS_asan   := -fsanitize=address,undefined
# BUILD=clang CC=clang: the release flags, in a directory of their own.
CFLAGS_clang   := $(CFLAGS_release)
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -lm
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS_$(BUILD)) -Isrc -MMD -MP \
             -DGLM_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS_$(BUILD)) $(LDFLAGS)

SRC      := $(sort $(shell find src -name '*.c'))
# The web page (web/) is compiled in: scripts/embed-web.sh makes it a C file.
WEB_FILES := web/index.html web/app.css web/app.js
WEB_OBJ  := $(O)/gen/web_assets.o
LIB_OBJ  := $(patsubst %.c,$(O)/%.o,$(filter-out src/main.c,$(SRC))) $(WEB_OBJ)
UNIT_BIN := $(patsubst tests/unit/%.c,$(O)/tests/%,$(wildcard tests/unit/test_*.c))
MOCK_OBJ := $(patsubst %.c,$(O)/%.o,$(wildcard tests/mock/*.c))
MOCK_BIN := $(O)/tests/mock-chatglm

.PHONY: all deps run test units check clean install uninstall bench fuzz valgrind-test analyze
.DEFAULT_GOAL := all

all: $(O)/$(PROG)

$(O)/$(PROG): $(O)/src/main.o $(O)/libglm.a
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(O)/libglm.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(O)/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/gen/web_assets.c: $(WEB_FILES) scripts/embed-web.sh
	@mkdir -p $(@D)
	@echo "  GEN     $@"
	$(Q)./scripts/embed-web.sh $(WEB_FILES) >$@.tmp && mv $@.tmp $@

$(WEB_OBJ): $(O)/gen/web_assets.c
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/tests/test_%: $(O)/tests/unit/test_%.o $(O)/libglm.a
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(MOCK_BIN): $(MOCK_OBJ) $(O)/libglm.a
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

units: $(UNIT_BIN) $(MOCK_BIN)

deps:
	./scripts/install-deps.sh

run: deps
	$(MAKE) BUILD=release all
	./build/release/$(PROG) $(ARGS)

# The whole suite under ASan+UBSan: unit tests, then the server against the mock
# through the official openai client. Ends with "N passed, N failed".
test:
	./scripts/install-deps.sh --test
	$(MAKE) BUILD=asan all units
	$(MAKE) BUILD=release all
	./tests/run.sh build/asan

check: test

# Benchmarks (issue: performance), fuzzing, valgrind and static analysis each
# live in their own script so that CI and people run exactly the same steps.
bench:
	./scripts/install-deps.sh --bench
	$(MAKE) BUILD=release all units
	./bench/run.sh

fuzz:
	./scripts/fuzz.sh $(FUZZ_SECONDS)

valgrind-test:
	./scripts/install-deps.sh --test
	$(MAKE) BUILD=debug all units
	./scripts/valgrind-test.sh

analyze:
	./scripts/analyze.sh

# The binary, the systemd unit (pointed at this PREFIX and SYSCONFDIR), the
# docs, and the config file unless one is there already (it may hold tokens:
# root only; the unit hands the service a copy).
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/$(PROG)
	install -m 0755 $(O)/$(PROG) $(DESTDIR)$(PREFIX)/bin/$(PROG)
	sed -e 's|/usr/local/bin/|$(PREFIX)/bin/|g' -e 's|/etc/$(PROG)/|$(SYSCONFDIR)/$(PROG)/|g' \
	    -e 's|/usr/local/share/doc/$(PROG)/|$(DOCDIR)/|g' \
	    deploy/$(PROG).service >$(DESTDIR)$(UNITDIR)/$(PROG).service
	chmod 0644 $(DESTDIR)$(UNITDIR)/$(PROG).service
	install -m 0644 README.md README.zh-CN.md deploy/$(PROG).conf.example deploy/nginx.conf \
	    $(DESTDIR)$(DOCDIR)/
	[ -e $(DESTDIR)$(SYSCONFDIR)/$(PROG)/$(PROG).conf ] || \
	    install -m 0600 deploy/$(PROG).conf.example $(DESTDIR)$(SYSCONFDIR)/$(PROG)/$(PROG).conf

# Leaves the config file and the data (/var/lib/glm-free-api) alone.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/$(PROG) $(DESTDIR)$(UNITDIR)/$(PROG).service
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# cano - embeddable Kafka-style partitioned log.  See README.
CANO_VER      = $(shell sed -n 's/^\#define CANO_VERSION_$(1) *\([0-9]*\).*/\1/p' include/cano.h)
MAJOR        := $(call CANO_VER,MAJOR)
VERSION      := $(MAJOR).$(call CANO_VER,MINOR).$(call CANO_VER,PATCH)
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CC           ?= cc
CFLAGS       ?= -O2 -g
WARN          = -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wno-unused-parameter
CANO_CFLAGS   = -std=gnu11 -Iinclude -Ilib -pthread $(WARN)
LIBS          = -lz -lxxhash -lpthread -lm

SRCS     := $(sort $(wildcard lib/*.c))
OBJS     := $(SRCS:lib/%.c=build/lib/%.o)
PIC_OBJS := $(SRCS:lib/%.c=build/pic/%.o)
TEST_OBJS:= $(SRCS:lib/%.c=build/testlib/%.o)
SONAME    = libcano.so.$(MAJOR)
SHLIB     = libcano.so.$(VERSION)

EXAMPLES := $(patsubst examples/%.c,build/examples/%,$(wildcard examples/*.c))
TEST_SRCS:= $(sort $(wildcard test/check_*.c)) test/testutil.c
DEMO_DIR ?= /tmp/cano-demo

# Debian packages the build needs; installed by `make deps` when root.
BUILD_DEPS = zlib1g-dev libxxhash-dev check pkg-config
BENCH_DEPS = libsqlite3-dev liblmdb-dev librocksdb-dev

.PHONY: all deps check test run bench install uninstall clean headertest symbolstest mantest
all: deps libcano.a $(SHLIB) $(EXAMPLES)

# Installs missing Debian packages (as root), or says the one command to run.
define need_pkgs
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else echo "missing packages:$$missing"; echo "run: sudo apt-get install -y$$missing"; exit 1; fi; fi
endef
deps:
	$(call need_pkgs,$(BUILD_DEPS))

build/lib/%.o: lib/%.c lib/*.h include/cano.h | build/lib
	@echo "  CC      $@"; $(CC) $(CANO_CFLAGS) $(CPPFLAGS) $(CFLAGS) -fvisibility=hidden -c -o $@ $<
build/pic/%.o: lib/%.c lib/*.h include/cano.h | build/pic
	@echo "  CC      $@"; $(CC) $(CANO_CFLAGS) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<
build/testlib/%.o: lib/%.c lib/*.h include/cano.h | build/testlib
	@echo "  CC      $@"; $(CC) $(CANO_CFLAGS) -DCANO_TESTING $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
build/lib build/pic build/testlib build/examples build/test:
	mkdir -p $@

libcano.a: $(OBJS)
	rm -f $@ && ar rcs $@ $^
$(SHLIB): $(PIC_OBJS) lib/cano.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/cano.map -Wl,--no-undefined $(LDFLAGS) -o $@ $(PIC_OBJS) $(LIBS)
	ln -sf $(SHLIB) $(SONAME) && ln -sf $(SONAME) libcano.so
build/testlib/libcano-test.a: $(TEST_OBJS)
	rm -f $@ && ar rcs $@ $^

build/examples/%: examples/%.c libcano.a | build/examples
	$(CC) $(CANO_CFLAGS) $(CPPFLAGS) $(CFLAGS) -o $@ $< libcano.a $(LIBS) $(LDFLAGS)

build/test/check_cano: $(TEST_SRCS) test/*.h build/testlib/libcano-test.a | build/test
	$(CC) $(CANO_CFLAGS) -DCANO_TESTING -Itest $(CPPFLAGS) $(CFLAGS) -o $@ $(TEST_SRCS) build/testlib/libcano-test.a $$(pkg-config --cflags --libs check) $(LIBS) $(LDFLAGS)

check: all build/test/check_cano headertest symbolstest mantest
	./build/test/check_cano
test: check

# The public header must compile alone as C99 and as C++.
headertest: | build/test
	printf '#include "cano.h"\nint main(void){return cano_version()==0;}\n' > build/test/h.c
	$(CC) -std=c99 -pedantic -Werror -Wall -Iinclude -fsyntax-only build/test/h.c
	if command -v c++ >/dev/null; then c++ -x c++ -pedantic -Werror -Wall -Iinclude -fsyntax-only build/test/h.c; fi

# The shared library exports exactly the symbols in lib/cano.map.
symbolstest: $(SHLIB)
	nm -D --defined-only $(SHLIB) | awk '$$2=="T"{print $$3}' | sort > build/test/exported.txt
	sed -n 's/^[[:space:]]*\(cano_[a-z0-9_]*\);.*/\1/p' lib/cano.map | sort > build/test/declared.txt
	diff -u build/test/declared.txt build/test/exported.txt

# Every exported function has a man page, and every page renders cleanly.
mantest: symbolstest
	@for f in $$(cat build/test/declared.txt); do test -f man/man3/$$f.3 || { echo "no man page: $$f"; exit 1; }; done
	@for p in man/man*/*.[0-9]; do \
	  out=$$(cd man && LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z ../$$p 2>&1); \
	  [ -z "$$out" ] || { echo "$$p: $$out"; exit 1; }; done; echo "man pages ok"

run: all
	build/examples/hello $(DEMO_DIR)

bench: all
	$(call need_pkgs,$(BENCH_DEPS))
	$(MAKE) -C test/bench CANO_TOP=$(CURDIR)
	./test/bench/bench

cano.pc: pkgconfig/cano.pc.in include/cano.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

install: all cano.pc
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man1
	install -m 644 include/cano.h $(DESTDIR)$(INCLUDEDIR)/cano.h
	install -m 644 libcano.a $(DESTDIR)$(LIBDIR)/libcano.a
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/$(SHLIB)
	ln -sf $(SHLIB) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libcano.so
	install -m 644 cano.pc $(DESTDIR)$(PKGCONFIGDIR)/cano.pc
	install -m 644 man/man3/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 man/man5/*.5 $(DESTDIR)$(MANDIR)/man5/
	if ls man/man1/*.1 >/dev/null 2>&1; then install -m 644 man/man1/*.1 $(DESTDIR)$(MANDIR)/man1/; fi

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/cano.h $(DESTDIR)$(LIBDIR)/libcano.a $(DESTDIR)$(LIBDIR)/$(SHLIB) \
	      $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libcano.so $(DESTDIR)$(PKGCONFIGDIR)/cano.pc
	for p in man/man3/*.3 man/man5/*.5 man/man1/*.1; do [ -f "$$p" ] && rm -f $(DESTDIR)$(MANDIR)/$${p#man/}; done; true

clean:
	rm -rf build libcano.a libcano.so* cano.pc
	-$(MAKE) -C test/bench clean 2>/dev/null

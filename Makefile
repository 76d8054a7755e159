# beehive: bhyve's design on Linux/KVM.
#   make            build libvmmapi, bhyve, bhyvectl and the guest payloads
#   make demo       install what is needed, build, boot the demo guest
#   make check      install what is needed, build, run every test
#   make check-fast the same without the nested-rig end-to-end scenarios
#   make SAN=1      build with AddressSanitizer + UBSan (into build-san/)
#   make fuzz       build the libFuzzer targets (clang)

CC	?= gcc
SAN	?= 0
ifeq ($(SAN),1)
BUILD	?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	    -fno-omit-frame-pointer
else
BUILD	?= build
SANFLAGS :=
endif

WARN	:= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wno-unused-parameter
CFLAGS	?= -O2 -g
CFLAGS	+= -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(SANFLAGS) -MMD -MP
INCS	:= -Ilib/vmmapi -Ibhyve/cli -Ibhyve/core -Ibhyve/platform -Ibhyve/boot \
	   -Ibhyve/pci -Ibhyve/virtio -Ibhyve/debug -Ibhyve/block -Ibhyve/ui
LDFLAGS	+= -pthread $(SANFLAGS)
LDLIBS	+= -ljansson -luring -lseccomp -ldl
# fbuf's VNC server (bhyve/ui) opens libvncserver with dlopen on first use
# (bhyve/core/dynlib.h); the unit tests also use the client side.
TEST_LDLIBS := -lvncclient
# virtio-net's backends; libslirp for the user-mode one (left out when
# its headers are not installed; opened with dlopen on first use, so only
# VMs with a slirp NIC map it and glib: bhyve/net/net_slirp.c).
INCS	+= -Ibhyve/net
ifneq ($(wildcard /usr/include/slirp/libslirp.h),)
INCS	+= -DHAVE_LIBSLIRP
endif

VMMAPI_SRCS := $(wildcard lib/vmmapi/*.c)
# Everything of the bhyve program except main() lives in bhyve/<layer>/;
# unit tests link the same objects.
BHYVE_LIB_SRCS := $(sort $(wildcard bhyve/*/*.c))
BHYVE_MAIN  := bhyve/bhyverun.c
CTL_SRCS    := $(wildcard bhyvectl/*.c)
# bhyvezone: runs a VM confined (docs/zone.md); its tests confine a probe.
ZONE_SRCS   := $(wildcard zone/*.c)
ZONE_PROBE_SRCS := $(wildcard tests/zone/*.c)
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
# Tests that need /dev/kvm: run directly or inside the nested rig.
KVMTEST_SRCS := $(wildcard tests/kvm/test_*.c)

OBJ	    := $(BUILD)/obj
VMMAPI_OBJS := $(VMMAPI_SRCS:%.c=$(OBJ)/%.o)
BHYVE_LIB_OBJS := $(BHYVE_LIB_SRCS:%.c=$(OBJ)/%.o)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
KVMTEST_BINS := $(KVMTEST_SRCS:tests/kvm/%.c=$(BUILD)/kvmtests/%)

LIBVMMAPI   := $(BUILD)/libvmmapi.a
BHYVE	    := $(BUILD)/bhyve
BHYVECTL    := $(BUILD)/bhyvectl
BHYVEZONE   := $(BUILD)/bhyvezone
ZONE_PROBE  := $(BUILD)/zone-probe

all: $(BHYVE) $(if $(CTL_SRCS),$(BHYVECTL)) $(BHYVEZONE) $(ZONE_PROBE) $(UNIT_BINS) $(KVMTEST_BINS) payloads

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCS) -c $< -o $@

$(LIBVMMAPI): $(VMMAPI_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BHYVE): $(OBJ)/$(BHYVE_MAIN:.c=.o) $(BHYVE_LIB_OBJS) $(LIBVMMAPI)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BHYVECTL): $(CTL_SRCS:%.c=$(OBJ)/%.o) $(BHYVE_LIB_OBJS) $(LIBVMMAPI)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OBJ)/zone/%.o: INCS += -Izone
$(OBJ)/tests/unit/test_zone_spec.o: INCS += -Izone
$(BUILD)/tests/test_zone_spec: $(OBJ)/zone/zone_spec.o

$(BHYVEZONE): $(ZONE_SRCS:%.c=$(OBJ)/%.o) $(BHYVE_LIB_OBJS) $(LIBVMMAPI)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(ZONE_PROBE): $(ZONE_PROBE_SRCS:%.c=$(OBJ)/%.o) $(BHYVE_LIB_OBJS) $(LIBVMMAPI)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(BHYVE_LIB_OBJS) $(LIBVMMAPI)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LDLIBS)

$(BUILD)/kvmtests/%: $(OBJ)/tests/kvm/%.o $(BHYVE_LIB_OBJS) $(LIBVMMAPI)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Guest payloads: freestanding code, independent of SAN.
-include tests/payloads/payloads.mk

# libFuzzer targets: one per guest- or user-facing parser (fuzz/fuzz_*.c),
# linked with every bhyve object built for coverage.
FUZZ_BUILD  := build-fuzz
FUZZ_CFLAGS := -O1 -g -std=c11 -D_GNU_SOURCE -pthread $(WARN) \
	       -fsanitize=fuzzer-no-link,address,undefined
FUZZ_SRCS   := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS   := $(FUZZ_SRCS:fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_OBJS   := $(VMMAPI_SRCS:%.c=$(FUZZ_BUILD)/%.o) \
	       $(BHYVE_LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_RUNS   ?= 20000

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(INCS) -Ifuzz -c $< -o $@

# libvncserver is linked here (bhyve opens it with dlopen): fuzz_rfb sets
# its globals, and dlopen then finds the same, already loaded library.
$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz/fuzz_%.o $(FUZZ_OBJS)
	clang -fsanitize=fuzzer,address,undefined -pthread -o $@ $^ $(LDLIBS) \
	    -lvncserver

fuzz: $(FUZZ_BINS)

# A short run of every target from an empty corpus: finds shallow bugs and
# proves each target builds and runs.
fuzz-smoke: fuzz
	@for f in $(FUZZ_BINS); do \
	    n=$$(basename $$f); \
	    if $$f -runs=$(FUZZ_RUNS) -max_total_time=20 >$(FUZZ_BUILD)/$$n.log 2>&1; then \
	        echo "PASS: fuzz $$n ($(FUZZ_RUNS) runs)"; \
	    else \
	        echo "FAIL: fuzz $$n: see below"; tail -n 30 $(FUZZ_BUILD)/$$n.log; \
	    fi; \
	done

setup:
	@scripts/setup

demo: setup
	$(MAKE) all
	scripts/demo

check: setup
	$(MAKE) check-build
	tests/run --all

check-fast:
	$(MAKE) check-build
	tests/run --fast

check-build:
	$(MAKE) all
	$(MAKE) SAN=1 all
	$(MAKE) CC=clang BUILD=build-clang all

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san build-fuzz

.PHONY: all setup demo check check-fast check-build format clean payloads fuzz fuzz-smoke

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The eunomia plugin kit's make rules, included by the Makefile `eunomia plugin new` writes:
#   make         build/NAME.bpf.o, build/NAME.so and build/NAME-VERSION.pkg (eunomia plugin build)
#   make lint    check the package on this machine (eunomia plugin lint)
#   make clean   remove build/
# EUNOMIA names the eunomia binary; CLANG and CC the compilers; BUILD_DIR the output folder.
EUNOMIA ?= eunomia
BUILD_DIR ?= build

.PHONY: all lint clean
all:
	$(EUNOMIA) plugin build . -o $(BUILD_DIR)

lint: all
	$(EUNOMIA) plugin lint $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)

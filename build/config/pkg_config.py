#!/usr/bin/env python3
"""Turns one pkg-config query into a GN scope: {cflags, include_dirs, libs, lib_dirs, defines}.

Called once per package set (pkg-config on gRPC's graph costs about a second per call). Include directories
become -isystem flags so warnings in system headers never fail our -Werror build. Usage:
  pkg_config.py PACKAGE... [--extra-lib NAME]...
"""

import shlex
import subprocess
import sys


def gn_list(values):
    return "[" + ", ".join('"%s"' % v.replace('"', '\\"') for v in values) + "]"


def main(argv):
    packages, extra_libs = [], []
    i = 0
    while i < len(argv):
        if argv[i] == "--extra-lib":
            extra_libs.append(argv[i + 1])
            i += 2
        else:
            packages.append(argv[i])
            i += 1

    def query(flag):
        try:
            out = subprocess.check_output(["pkg-config", flag] + packages, text=True)
        except (OSError, subprocess.CalledProcessError) as e:
            sys.stderr.write("pkg-config %s %s failed: %s\n" % (flag, " ".join(packages), e))
            sys.stderr.write("Run tools/install-build-deps to install the missing Debian packages.\n")
            sys.exit(1)
        return shlex.split(out)

    cflags, defines, libs, lib_dirs, ldflags = [], [], [], [], []
    for flag in query("--cflags"):
        if flag.startswith("-I"):
            path = flag[2:]
            if path != "/usr/include":
                cflags += ["-isystem", path]
        elif flag.startswith("-D"):
            defines.append(flag[2:])
        else:
            cflags.append(flag)

    # gRPC's .pc wraps libatomic in --push-state/--as-needed brackets that GN cannot express; keep the lib.
    for flag in query("--libs"):
        if flag.startswith("-Wl,--push-state") or flag.startswith("-Wl,--pop-state"):
            continue
        if flag.startswith("-l"):
            name = flag[2:]
            if name not in libs:
                libs.append(name)
        elif flag.startswith("-L"):
            if flag[2:] not in lib_dirs:
                lib_dirs.append(flag[2:])
        elif flag == "-pthread":
            ldflags.append(flag)
        else:
            ldflags.append(flag)
    for name in extra_libs:
        if name not in libs:
            libs.append(name)

    print("cflags = " + gn_list(cflags))
    print("defines = " + gn_list(defines))
    print("libs = " + gn_list(libs))
    print("lib_dirs = " + gn_list(lib_dirs))
    print("ldflags = " + gn_list(ldflags))


if __name__ == "__main__":
    main(sys.argv[1:])

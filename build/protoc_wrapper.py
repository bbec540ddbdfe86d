#!/usr/bin/env python3
"""Runs protoc for //build/proto_library.gni. Usage: protoc_wrapper.py ROOT GEN_DIR GRPC(0|1) PROTO...

ROOT is the source root (the --proto_path), GEN_DIR receives <path>.pb.{h,cc} (and .grpc.pb.{h,cc} when GRPC is 1).
"""

import subprocess
import sys


def main(argv):
    root, gen_dir, grpc = argv[0], argv[1], argv[2] == "1"
    protos = argv[3:]
    command = ["protoc", "--proto_path=" + root, "--cpp_out=" + gen_dir]
    if grpc:
        command += ["--grpc_out=" + gen_dir, "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin"]
    command += protos
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

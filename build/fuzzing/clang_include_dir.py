#!/usr/bin/env python3
"""Prints clang 14's resource include directory (the one holding fuzzer/FuzzedDataProvider.h), for GN."""

import os
import subprocess
import sys


def main():
  try:
    resource_dir = subprocess.run(['clang-14', '-print-resource-dir'], check=True, capture_output=True,
                                  text=True).stdout.strip()
  except (OSError, subprocess.CalledProcessError) as error:
    sys.exit('clang_include_dir.py: cannot run clang-14 -print-resource-dir: %s' % error)
  include_dir = os.path.join(resource_dir, 'include')
  if not os.path.isfile(os.path.join(include_dir, 'fuzzer', 'FuzzedDataProvider.h')):
    sys.exit('clang_include_dir.py: %s/fuzzer/FuzzedDataProvider.h is missing (install libclang-rt-14-dev)' %
             include_dir)
  print(include_dir)


if __name__ == '__main__':
  main()

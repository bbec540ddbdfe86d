#!/usr/bin/env python3
"""Tests for tools/checkdeps. Run: python3 tools/checkdeps_test.py [-v]

Each test writes a throwaway repository (DEPS files and sources) into a temporary directory and runs
checkdeps on it in a subprocess with --root; one test runs it on the real repository.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

TOOLS_DIR = os.path.dirname(os.path.realpath(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(TOOLS_DIR)
CHECKDEPS = os.path.join(TOOLS_DIR, 'checkdeps')

ROOT_DEPS = """
include_rules = [
  '-components',
  '-services',
  '-browser',
  '-renderer',
  '-test',
  '-tools',
  '-public',
]
"""


class Result(object):
  def __init__(self, proc):
    self.returncode = proc.returncode
    self.stdout = proc.stdout
    self.stderr = proc.stderr
    self.lines = [line for line in proc.stdout.splitlines() if line]

  def __repr__(self):
    return 'exit %d\n--- stdout\n%s--- stderr\n%s' % (self.returncode, self.stdout, self.stderr)


class CheckdepsTestCase(unittest.TestCase):
  def setUp(self):
    self.root = tempfile.mkdtemp(prefix='checkdeps_test_')
    self.addCleanup(shutil.rmtree, self.root)

  def write(self, files):
    """files: {repo-relative path: content}; content is dedented."""
    for relpath, content in files.items():
      full = os.path.join(self.root, *relpath.split('/'))
      os.makedirs(os.path.dirname(full), exist_ok=True)
      with open(full, 'w', encoding='utf-8') as f:
        f.write(textwrap.dedent(content).lstrip('\n'))

  def run_checkdeps(self, *args, root=None):
    proc = subprocess.run([sys.executable, CHECKDEPS, '--root', root or self.root] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          encoding='utf-8', timeout=60)
    return Result(proc)

  def assertClean(self, result):
    self.assertEqual(result.returncode, 0, result)
    self.assertEqual(result.lines, [], result)
    self.assertIn('checkdeps: OK (', result.stderr, result)

  def assertViolations(self, result, expected_lines):
    self.assertEqual(result.returncode, 1, result)
    self.assertEqual(result.lines, expected_lines, result)
    n = len(expected_lines)
    self.assertIn('checkdeps: %d violation%s in ' % (n, '' if n == 1 else 's'), result.stderr, result)

  def layered_repo(self, extra=None):
    """A small repo with the project's layering: the root denies everything, each dir opens its layers."""
    files = {
        'DEPS': ROOT_DEPS,
        'public/DEPS': "include_rules = ['+public']\n",
        'components/DEPS': "include_rules = ['+components', '+public']\n",
        'services/DEPS': "include_rules = ['+services', '+components', '+public']\n",
        'browser/DEPS': "include_rules = ['+browser', '+services', '+components', '+public']\n",
        'renderer/DEPS': "include_rules = ['+renderer', '+public']\n",
    }
    files.update(extra or {})
    self.write(files)


class LayeringTest(CheckdepsTestCase):
  def test_renderer_including_components_is_caught(self):
    self.layered_repo({
        'renderer/frame/sync.cc': """
            // Copyright.
            #include "renderer/frame/sync.h"

            #include <string>

            #include "components/background_sync/engine.h"
            """,
        'renderer/frame/sync.h': '#pragma once\n',
    })
    result = self.run_checkdeps()
    self.assertViolations(result, [
        'renderer/frame/sync.cc:6: includes "components/background_sync/engine.h" \u2014 '
        'forbidden by rule "-components" from DEPS',
    ])
    self.assertIn('1 violation in 2 files', result.stderr)

  def test_renderer_including_public_is_allowed(self):
    self.layered_repo({
        'renderer/frame/sync.cc': """
            #include "public/background_sync/registration.h"
            #include "public/mojom/background_sync.pb.h"
            #include "renderer/dom/sync_manager.h"
            """,
    })
    self.assertClean(self.run_checkdeps())

  def test_generated_proto_header_is_checked_like_any_other(self):
    self.layered_repo({
        'renderer/a.cc': '#include "services/proto/sync_service.pb.h"\n',
        'components/b.cc': '#include "public/mojom/background_sync.pb.h"\n',
    })
    self.assertViolations(self.run_checkdeps(), [
        'renderer/a.cc:1: includes "services/proto/sync_service.pb.h" \u2014 '
        'forbidden by rule "-services" from DEPS',
    ])

  def test_full_matrix_with_the_real_deps_files(self):
    # Copies the repository's own DEPS files into the scratch tree and checks every layer pair.
    layers = ['public', 'components', 'services', 'browser', 'renderer', 'test', 'tools']
    allowed = {
        'public': {'public'},
        'components': {'components', 'public'},
        'services': {'services', 'components', 'public'},
        'browser': {'browser', 'services', 'components', 'public'},
        'renderer': {'renderer', 'public'},
        'test': set(layers),
        'tools': set(layers),
    }
    for relpath in ['DEPS'] + [layer + '/DEPS' for layer in layers]:
      with open(os.path.join(REPO_ROOT, relpath), encoding='utf-8') as f:
        self.write({relpath: f.read()})
    expected = []
    for src in layers:
      lines = []
      for n, dst in enumerate(layers, 1):
        lines.append('#include "%s/other/x.h"' % dst)
        if dst not in allowed[src]:
          rule_origin = '"-%s" from DEPS' % dst
          expected.append('%s/sub/a.cc:%d: includes "%s/other/x.h" \u2014 forbidden by rule %s'
                          % (src, n, dst, rule_origin))
      self.write({src + '/sub/a.cc': '\n'.join(lines) + '\n'})
    result = self.run_checkdeps()
    self.assertEqual(sorted(result.lines), sorted(expected), result)
    self.assertEqual(result.returncode, 1, result)


class RuleSemanticsTest(CheckdepsTestCase):
  def test_child_minus_overrides_parent_plus(self):
    self.write({
        'DEPS': "include_rules = ['+public', '+components']\n",
        'components/DEPS': "include_rules = ['-public']\n",
        'components/a.cc': '#include "public/x.h"\n#include "components/b/y.h"\n',
        'services/a.cc': '#include "public/x.h"\n',
    })
    self.assertViolations(self.run_checkdeps(), [
        'components/a.cc:1: includes "public/x.h" \u2014 forbidden by rule "-public" from components/DEPS',
    ])

  def test_child_plus_overrides_parent_minus(self):
    self.write({
        'DEPS': "include_rules = ['-public', '-components']\n",
        'components/DEPS': "include_rules = ['+public']\n",
        'components/a.cc': '#include "public/x.h"\n',
        'services/a.cc': '#include "public/x.h"\n',
    })
    self.assertViolations(self.run_checkdeps(), [
        'services/a.cc:1: includes "public/x.h" \u2014 forbidden by rule "-public" from DEPS',
    ])

  def test_longest_prefix_wins_within_one_deps(self):
    self.write({
        'DEPS': "include_rules = ['-components/background_sync/internal', '+components']\n",
        'services/a.cc': """
            #include "components/background_sync/engine.h"
            #include "components/background_sync/internal/table.h"
            #include "components/background_sync/internal_names.h"
            """,
    })
    self.assertViolations(self.run_checkdeps(), [
        'services/a.cc:2: includes "components/background_sync/internal/table.h" \u2014 '
        'forbidden by rule "-components/background_sync/internal" from DEPS',
    ])

  def test_longest_prefix_wins_over_a_deeper_deps(self):
    self.write({
        'DEPS': "include_rules = ['-components/secret', '+public/ok']\n",
        'services/DEPS': "include_rules = ['+components', '-public']\n",
        'services/a.cc': """
            #include "components/secret/key.h"
            #include "components/open/door.h"
            #include "public/ok/fine.h"
            #include "public/other.h"
            """,
    })
    self.assertViolations(self.run_checkdeps(), [
        'services/a.cc:1: includes "components/secret/key.h" \u2014 '
        'forbidden by rule "-components/secret" from DEPS',
        'services/a.cc:4: includes "public/other.h" \u2014 forbidden by rule "-public" from services/DEPS',
    ])

  def test_rule_naming_a_single_file(self):
    self.write({
        'DEPS': "include_rules = ['-components', '+components/background_sync/engine.h']\n",
        'browser/a.cc': """
            #include "components/background_sync/engine.h"
            #include "components/background_sync/engine.h.inc"
            """,
    })
    self.assertViolations(self.run_checkdeps(), [
        'browser/a.cc:2: includes "components/background_sync/engine.h.inc" \u2014 '
        'forbidden by rule "-components" from DEPS',
    ])

  def test_prefix_matches_whole_path_components(self):
    self.write({
        'DEPS': "include_rules = ['+components/sync']\n",
        'browser/a.cc': '#include "components/sync/a.h"\n#include "components/sync_extra/b.h"\n',
    })
    self.assertViolations(self.run_checkdeps(), [
        'browser/a.cc:2: includes "components/sync_extra/b.h" \u2014 no rule allows it',
    ])

  def test_later_rule_wins_for_the_same_prefix_in_one_file(self):
    self.write({
        'DEPS': "include_rules = ['-public', '+public']\n",
        'browser/a.cc': '#include "public/a.h"\n',
    })
    self.assertClean(self.run_checkdeps())

  def test_exclamation_is_allowed_and_noted_with_verbose(self):
    self.write({
        'DEPS': ROOT_DEPS,
        'renderer/DEPS': "include_rules = ['+public', '!components/legacy']\n",
        'renderer/a.cc': '#include "components/legacy/old.h"\n',
    })
    result = self.run_checkdeps()
    self.assertClean(result)
    self.assertNotIn('temporarily', result.stderr)
    result = self.run_checkdeps('--verbose')
    self.assertClean(result)
    self.assertIn('renderer/a.cc:1: includes "components/legacy/old.h" \u2014 temporarily allowed by rule '
                  '"!components/legacy" from renderer/DEPS', result.stderr)

  def test_no_rule_is_default_deny(self):
    self.write({
        'browser/a.cc': '#include "components/x.h"\n#include "build/config.h"\n',
    })
    self.assertViolations(self.run_checkdeps(), [
        'browser/a.cc:1: includes "components/x.h" \u2014 no rule allows it',
        'browser/a.cc:2: includes "build/config.h" \u2014 no rule allows it',
    ])

  def test_noparent_stops_inheritance(self):
    self.write({
        'DEPS': "include_rules = ['+components', '+public']\n",
        'browser/DEPS': "noparent = True\ninclude_rules = ['+services']\n",
        'browser/sub/DEPS': "include_rules = ['+test/support']\n",
        'browser/sub/a.cc': """
            #include "services/s.h"
            #include "test/support/t.h"
            #include "components/c.h"
            #include "browser/sub/inner/own.h"
            """,
        'services/a.cc': '#include "components/c.h"\n',
    })
    self.assertViolations(self.run_checkdeps(), [
        'browser/sub/a.cc:3: includes "components/c.h" \u2014 no rule allows it',
    ])

  def test_noparent_false_keeps_inheritance(self):
    self.write({
        'DEPS': "include_rules = ['+components']\n",
        'browser/DEPS': "noparent = False\n",
        'browser/a.cc': '#include "components/c.h"\n',
    })
    self.assertClean(self.run_checkdeps())

  def test_specific_include_rules_for_unittests(self):
    self.layered_repo({
        'services/DEPS': """
            include_rules = ['+services', '+components', '+public']
            specific_include_rules = {
              '.*_unittest\\\\.cc': ['+test', '+browser/testing'],
              'legacy\\\\.cc': ['-components'],
            }
            """,
        'services/sync/sync_service_unittest.cc': """
            #include "test/fake_clock.h"
            #include "browser/testing/harness.h"
            #include "browser/ui/window.h"
            """,
        'services/sync/sync_service.cc': '#include "test/fake_clock.h"\n',
        'services/sync/legacy.cc': '#include "components/old.h"\n',
        'services/sync/legacy_unittest.cc': '#include "components/old.h"\n',
    })
    self.assertViolations(self.run_checkdeps(), [
        'services/sync/legacy.cc:1: includes "components/old.h" \u2014 forbidden by rule "-components" from '
        "services/DEPS (specific_include_rules 'legacy\\.cc')",
        'services/sync/sync_service.cc:1: includes "test/fake_clock.h" \u2014 forbidden by rule "-test" '
        'from DEPS',
        'services/sync/sync_service_unittest.cc:3: includes "browser/ui/window.h" \u2014 '
        'forbidden by rule "-browser" from DEPS',
    ])

  def test_specific_rule_beats_general_rule_of_same_deps(self):
    self.write({
        'components/DEPS': """
            include_rules = ['-services']
            specific_include_rules = {'.*_unittest\\\\.cc': ['+services']}
            """,
        'components/a_unittest.cc': '#include "services/s.h"\n',
        'components/a.cc': '#include "services/s.h"\n',
    })
    self.assertViolations(self.run_checkdeps(), [
        'components/a.cc:1: includes "services/s.h" \u2014 forbidden by rule "-services" from components/DEPS',
    ])

  def test_implicit_own_directory_allow(self):
    self.write({
        'DEPS': ROOT_DEPS,
        'renderer/core/a.cc': """
            #include "renderer/core/a.h"
            #include "renderer/core/sub/detail.h"
            #include "renderer/other/b.h"
            """,
    })
    self.assertViolations(self.run_checkdeps(), [
        'renderer/core/a.cc:3: includes "renderer/other/b.h" \u2014 forbidden by rule "-renderer" from DEPS',
    ])

  def test_own_directory_deny_in_its_own_deps_wins(self):
    self.write({
        'renderer/core/DEPS': "include_rules = ['-renderer/core']\n",
        'renderer/core/a.cc': '#include "renderer/core/a.h"\n',
    })
    self.assertViolations(self.run_checkdeps(), [
        'renderer/core/a.cc:1: includes "renderer/core/a.h" \u2014 forbidden by rule "-renderer/core" from '
        'renderer/core/DEPS',
    ])

  def test_angle_third_party_and_commented_includes_are_ignored(self):
    self.layered_repo({
        'public/a.h': """
            #include <components/not_ours.h>
            #include <vector>
            #include "absl/status/status.h"
            #include "leveldb/db.h"
            #include "gtest/gtest.h"
            #include "a_local_header.h"
            // #include "components/commented_out.h"
            /* not handled: block comments */
            #if 0
            #endif
              #  include   "public/indented_is_fine.h"
            """,
    })
    self.assertClean(self.run_checkdeps())

  def test_indented_include_with_spaces_is_checked(self):
    self.layered_repo({'public/a.h': '// First line.\n  #  include   "components/x.h"  // why\n'})
    self.assertViolations(self.run_checkdeps(), [
        'public/a.h:2: includes "components/x.h" \u2014 forbidden by rule "-components" from DEPS',
    ])

  def test_other_deps_names_are_ignored(self):
    self.write({
        'DEPS': """
            # A comment.
            debian_packages = {'g++': '4:12.2.0'}
            vars = {'x': 'y'}
            deps = {}
            include_rules = ['+public']
            """,
        'browser/a.cc': '#include "public/x.h"\n',
    })
    self.assertClean(self.run_checkdeps())


class MalformedDepsTest(CheckdepsTestCase):
  CASES = {
      'syntax': ("include_rules = ['+public'\n", 'syntax error'),
      'var': ("vars = {'a': 'b'}\ninclude_rules = [Var('a')]\n", 'Var()'),
      'bad_rule': ("include_rules = ['public']\n", "'public'"),
      'not_a_list': ("include_rules = '+public'\n", 'must be a list'),
      'not_a_string': ("include_rules = [3]\n", 'not a string'),
      'noparent': ("noparent = 'yes'\n", 'noparent must be True or False'),
      'regex': ("specific_include_rules = {'(': ['+public']}\n", 'not a valid regex'),
      'specific_not_dict': ("specific_include_rules = ['+public']\n", 'must be a dict'),
      'statement': ("import os\n", 'unsupported statement'),
      'expression': ("include_rules = ['+a'] + ['+b']\n", 'not a plain Python literal'),
      'twice': ("include_rules = []\ninclude_rules = []\n", 'assigned twice'),
      'escape': ("include_rules = ['+../outside']\n", 'inside the repository'),
  }

  def test_malformed_deps_exit_2_with_file_and_reason(self):
    for name, (content, reason) in sorted(self.CASES.items()):
      with self.subTest(name):
        root = os.path.join(self.root, name)
        os.makedirs(os.path.join(root, 'components'))
        with open(os.path.join(root, 'components', 'DEPS'), 'w') as f:
          f.write(content)
        with open(os.path.join(root, 'components', 'a.cc'), 'w') as f:
          f.write('#include "public/x.h"\n')
        result = self.run_checkdeps(root=root)
        self.assertEqual(result.returncode, 2, result)
        self.assertIn('components/DEPS', result.stderr, result)
        self.assertIn(reason, result.stderr, result)

  def test_malformed_deps_without_sources_beside_it_is_reported(self):
    self.write({'public/DEPS': "include_rules = ['public']\n", 'browser/a.cc': '\n'})
    result = self.run_checkdeps()
    self.assertEqual(result.returncode, 2, result)
    self.assertIn('public/DEPS:1', result.stderr, result)


class CommandLineTest(CheckdepsTestCase):
  def test_paths_restrict_the_check(self):
    self.layered_repo({
        'renderer/a.cc': '#include "components/x.h"\n',
        'renderer/sub/b.cc': '#include "browser/x.h"\n',
        'public/c.h': '#include "services/x.h"\n',
        'public/notes.txt': '#include "services/x.h"\n',
    })
    result = self.run_checkdeps('public')
    self.assertViolations(result, [
        'public/c.h:1: includes "services/x.h" \u2014 forbidden by rule "-services" from DEPS',
    ])
    self.assertIn('in 1 file', result.stderr)
    result = self.run_checkdeps(os.path.join(self.root, 'renderer', 'sub', 'b.cc'), 'public/c.h')
    self.assertViolations(result, [
        'renderer/sub/b.cc:1: includes "browser/x.h" \u2014 forbidden by rule "-browser" from DEPS',
        'public/c.h:1: includes "services/x.h" \u2014 forbidden by rule "-services" from DEPS',
    ])

  def test_relative_paths_follow_the_current_directory_inside_the_repository(self):
    self.layered_repo({
        'renderer/sub/b.cc': '#include "browser/x.h"\n',
        'sub/c.cc': '#include "browser/x.h"\n',
    })
    proc = subprocess.run([sys.executable, CHECKDEPS, '--root', self.root, 'sub'], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, encoding='utf-8', timeout=60,
                          cwd=os.path.join(self.root, 'renderer'))
    self.assertViolations(Result(proc), [
        'renderer/sub/b.cc:1: includes "browser/x.h" \u2014 forbidden by rule "-browser" from DEPS',
    ])

  def test_missing_path_is_an_error(self):
    self.layered_repo()
    result = self.run_checkdeps('no/such/dir')
    self.assertEqual(result.returncode, 2, result)
    self.assertIn('no/such/dir', result.stderr)

  def test_skipped_directories_and_extensions(self):
    self.layered_repo({
        'out/Debug/gen/public/x.pb.h': '#include "browser/x.h"\n',
        'out-asan/y.cc': '#include "browser/x.h"\n',
        'components/third_party/lib/z.cc': '#include "browser/x.h"\n',
        '.git/w.cc': '#include "browser/x.h"\n',
        'renderer/a.c': '#include "browser/x.h"\n',
        'renderer/a.py': '#include "browser/x.h"\n',
        'renderer/a.hpp': '#include "browser/x.h"\n',
        'renderer/a.cpp': '#include "browser/x.h"\n',
        'components/outbox/b.h': '#include "browser/x.h"\n',
    })
    result = self.run_checkdeps()
    self.assertViolations(result, [
        'components/outbox/b.h:1: includes "browser/x.h" \u2014 forbidden by rule "-browser" from DEPS',
        'renderer/a.cpp:1: includes "browser/x.h" \u2014 forbidden by rule "-browser" from DEPS',
        'renderer/a.hpp:1: includes "browser/x.h" \u2014 forbidden by rule "-browser" from DEPS',
    ])
    self.assertIn('3 violations in 3 files', result.stderr)

  def test_clean_tree_summary(self):
    self.layered_repo({'public/a.h': '#include "public/b.h"\n', 'public/b.h': '\n'})
    result = self.run_checkdeps()
    self.assertClean(result)
    self.assertIn('checkdeps: OK (2 files)', result.stderr)


class RealRepositoryTest(unittest.TestCase):
  def test_real_repository_is_clean(self):
    proc = subprocess.run([sys.executable, CHECKDEPS, '--root', REPO_ROOT], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, encoding='utf-8', timeout=60)
    self.assertEqual(proc.returncode, 0, 'stdout:\n%s\nstderr:\n%s' % (proc.stdout, proc.stderr))

  def test_default_root_is_the_repository_of_the_script(self):
    proc = subprocess.run([sys.executable, CHECKDEPS], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, encoding='utf-8', timeout=60, cwd=tempfile.gettempdir())
    self.assertEqual(proc.returncode, 0, 'stdout:\n%s\nstderr:\n%s' % (proc.stdout, proc.stderr))


if __name__ == '__main__':
  unittest.main()

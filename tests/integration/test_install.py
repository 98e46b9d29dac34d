"""make install's payload, installed into a temporary prefix from this build
tree: binaries, libvigil (shared, header, pkg-config file), the systemd unit
with the installed paths, the example configuration (which vigild accepts),
the man pages; and a program built against the installed library with
pkg-config runs."""
import os
import subprocess
import tempfile
import unittest

BUILD = os.path.dirname(os.environ["VIGILD"])


class Install(unittest.TestCase):
    def test_install_tree(self):
        pre = tempfile.mkdtemp(prefix="vigil-inst-")
        subprocess.run(["cmake", "--install", BUILD, "--prefix", pre], check=True,
                       capture_output=True)
        files = {os.path.relpath(os.path.join(d, f), pre)
                 for d, _, fs in os.walk(pre) for f in fs}
        libdir = next(os.path.dirname(f) for f in files if f.endswith("pkgconfig/vigil.pc"))
        libdir = os.path.dirname(libdir)
        for want in ("bin/vigild", "bin/vigil", "include/vigil.h", f"{libdir}/libvigil.so",
                     "lib/systemd/system/vigild.service", "share/man/man8/vigild.8",
                     "share/man/man1/vigil.1"):
            self.assertTrue(want in files or os.path.islink(os.path.join(pre, want)),
                            (want, sorted(files)))
        unit = open(os.path.join(pre, "lib/systemd/system/vigild.service")).read()
        self.assertIn("Type=notify", unit)
        # the unit names the prefix the build was configured for (make install PREFIX=)
        self.assertRegex(unit, r"ExecStart=/\S*/bin/vigild --config /\S*/vigil/vigil.ini")
        ini = next(f for f in files if f.endswith("vigil/vigil.ini.example"))
        # A sanitizer build's binaries want their runtime first in line, which an
        # installed copy run from elsewhere does not give them: the files are
        # checked above; running them is for the plain build.
        ldd = subprocess.run(["ldd", os.environ["VIGILD"]], capture_output=True, text=True).stdout
        if "libasan" in ldd or "libubsan" in ldd:
            return
        r = subprocess.run([os.path.join(pre, "bin/vigild"), "--check-config", "--config",
                            os.path.join(pre, ini)], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        # a client built against the installed library, found by pkg-config
        src = os.path.join(pre, "hello.c")
        with open(src, "w") as f:
            f.write('#include <vigil.h>\n#include <stdio.h>\n'
                    'int main(void){vigil_client *c = vigil_client_new("http://127.0.0.1:1", 0);'
                    'printf("%s %d\\n", vigil_version(), c != 0); vigil_client_free(c); return 0;}\n')
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(pre, libdir, "pkgconfig"))
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "vigil"], env=env,
                               capture_output=True, text=True, check=True).stdout.split()
        exe = os.path.join(pre, "hello")
        subprocess.run(["cc", src, "-o", exe, *flags], check=True)
        out = subprocess.run([exe], capture_output=True, text=True,
                             env=dict(os.environ, LD_LIBRARY_PATH=os.path.join(pre, libdir)))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.strip().endswith(" 1"), out.stdout)


if __name__ == "__main__":
    unittest.main()

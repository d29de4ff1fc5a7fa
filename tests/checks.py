"""The pass/fail bookkeeping of the Python test scripts: one line per check, and at the end
"N passed, M failed" (the closing line CI reads) with the exit code to match."""
import sys

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   %s" % name)
    else:
        failed += 1
        print("FAIL %s%s" % (name, ("\n     " + str(detail).replace("\n", "\n     ")) if detail else ""))
    return ok


def finish():
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)

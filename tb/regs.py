"""Register map, commands, policy codes and error codes of the core's control interface.

Names for the testbench; the values come from `hw/layouts.py`, the single definition of the
control interface that the RTL is built from."""

from hw.layouts import COMMANDS, ERROR_CODES, POLICY_CODES, REGISTERS  # noqa: F401

REG_N, REG_D, REG_PERP = REGISTERS["N"], REGISTERS["D"], REGISTERS["PERP"]
REG_POLICY, REG_SEED, REG_CMD = REGISTERS["POLICY"], REGISTERS["SEED"], REGISTERS["CMD"]
CMD_START, CMD_CLEAR = COMMANDS["START"], COMMANDS["CLEAR"]
ERR_N_RANGE, ERR_D_RANGE, ERR_PERP_RANGE, ERR_POLICY, ERR_BUSY = 1, 2, 3, 4, 5
ERROR_NAMES = {code: text for code, text in ERROR_CODES.items() if code}

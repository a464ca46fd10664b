"""Register map, commands, policy codes and error codes of the core's control interface.

Names for the testbench; every value comes from `hw.regmap`, the single definition of the
control interface that the RTL is built from."""

from hw.regmap import ABORT_CYCLES, COMMANDS, ERR, ERROR_CODES, POLICY_CODES, REGISTERS, start_error  # noqa: F401

REG_N, REG_D, REG_PERP = REGISTERS["N"], REGISTERS["D"], REGISTERS["PERP"]
REG_POLICY, REG_SEED, REG_CMD = REGISTERS["POLICY"], REGISTERS["SEED"], REGISTERS["CMD"]
REG_DATAFLOW, REG_MODE, REG_DEBUG = REGISTERS["DATAFLOW"], REGISTERS["MODE"], REGISTERS["DEBUG"]
CMD_START, CMD_CLEAR, CMD_ABORT = COMMANDS["START"], COMMANDS["CLEAR"], COMMANDS["ABORT"]
ERR_N_RANGE, ERR_D_RANGE, ERR_PERP_RANGE = ERR["N_RANGE"], ERR["D_RANGE"], ERR["PERP_RANGE"]
ERR_POLICY, ERR_BUSY, ERR_ABORTED = ERR["POLICY"], ERR["BUSY"], ERR["ABORTED"]
ERROR_NAMES = {code: text for code, text in ERROR_CODES.items() if code}

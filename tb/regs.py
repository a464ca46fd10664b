"""Register map, commands, policy codes and error codes of the core's control interface."""

REG_N, REG_D, REG_PERP, REG_POLICY, REG_SEED, REG_CMD = 0, 1, 2, 3, 4, 7
CMD_START, CMD_CLEAR = 1, 2
POLICY_CODES = {"bisection": 0, "fwa": 1, "ksection": 2}
ERR_N_RANGE, ERR_D_RANGE, ERR_PERP_RANGE, ERR_POLICY, ERR_BUSY = 1, 2, 3, 4, 5
ERROR_NAMES = {1: "N out of range", 2: "D out of range", 3: "perplexity out of range", 4: "unknown policy",
               5: "START while busy"}

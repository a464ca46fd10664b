// A model of ECP5's MULT18X18D registers for tests/test_dsp_regs.py (Yosys ships the cell as a
// black box).  Registers as Lattice documents the sysDSP block (TN1267) and as synth.dsp_regs
// writes them: all on CLK0, CE / RST chosen by REG_*_CE / REG_*_RST, synchronous reset to 0
// over the enable.  The function between the registers is not the product on purpose (below).
module MULT18X18D(
  input A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, A16, A17,
  input B0, B1, B2, B3, B4, B5, B6, B7, B8, B9, B10, B11, B12, B13, B14, B15, B16, B17,
  input C0, C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13, C14, C15, C16, C17,
  input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
  input CLK0, CLK1, CLK2, CLK3, input CE0, CE1, CE2, CE3, input RST0, RST1, RST2, RST3,
  output P0, P1, P2, P3, P4, P5, P6, P7, P8, P9, P10, P11, P12, P13, P14, P15, P16, P17,
  output P18, P19, P20, P21, P22, P23, P24, P25, P26, P27, P28, P29, P30, P31, P32, P33, P34, P35);
  parameter REG_INPUTA_CLK = "NONE", REG_INPUTA_CE = "CE0", REG_INPUTA_RST = "RST0";
  parameter REG_INPUTB_CLK = "NONE", REG_INPUTB_CE = "CE0", REG_INPUTB_RST = "RST0";
  parameter REG_INPUTC_CLK = "NONE", REG_INPUTC_CE = "CE0", REG_INPUTC_RST = "RST0";
  parameter REG_PIPELINE_CLK = "NONE", REG_PIPELINE_CE = "CE0", REG_PIPELINE_RST = "RST0";
  parameter REG_OUTPUT_CLK = "NONE", REG_OUTPUT_CE = "CE0", REG_OUTPUT_RST = "RST0";
  parameter CLK0_DIV = "ENABLED", CLK1_DIV = "ENABLED", CLK2_DIV = "ENABLED", CLK3_DIV = "ENABLED";
  parameter HIGHSPEED_CLK = "NONE", GSR = "ENABLED", CAS_MATCH_REG = "FALSE", SOURCEB_MODE = "B_SHIFT";
  parameter MULT_BYPASS = "DISABLED", RESETMODE = "SYNC";
  // only the modes synth.dsp_regs writes: every register on CLK0, synchronous reset to 0 over the enable
  wire [3:0] ce = {CE3, CE2, CE1, CE0}, rst = {RST3, RST2, RST1, RST0};
  wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
  wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
  function integer idx(input [8*4-1:0] s); idx = s[7:0] - "0"; endfunction
  reg [17:0] ar = 0, br = 0; reg [35:0] pr = 0;
  always @(posedge CLK0) begin
    if (rst[idx(REG_INPUTA_RST)]) ar <= 0; else if (ce[idx(REG_INPUTA_CE)]) ar <= a;
    if (rst[idx(REG_INPUTB_RST)]) br <= 0; else if (ce[idx(REG_INPUTB_CE)]) br <= b;
  end
  wire [17:0] ua = (REG_INPUTA_CLK == "NONE") ? a : ar;
  wire [17:0] ub = (REG_INPUTB_CLK == "NONE") ? b : br;
  // not the product: a function of every operand bit that a SAT solver handles in
  // milliseconds; the pass moves registers and never the function between them
  wire [35:0] prod = {ua ^ {ub[8:0], ub[17:9]}, ub + {17'b0, SIGNEDA ^ SIGNEDB}};
  always @(posedge CLK0)
    if (rst[idx(REG_OUTPUT_RST)]) pr <= 0; else if (ce[idx(REG_OUTPUT_CE)]) pr <= prod;
  wire [35:0] p = (REG_OUTPUT_CLK == "NONE") ? prod : pr;
  assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
          P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;
endmodule

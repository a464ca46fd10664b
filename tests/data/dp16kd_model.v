// A model of ECP5's DP16KD for tests/test_bram_regs.py (Yosys ships the cell as a black box).
// As Lattice documents the sysMEM block (TN1264): a synchronous read on CLK<port> with CE<port>,
// the read data held in the output latch, and with REGMODE_<port> = "OUTREG" one more register,
// clocked by CLK<port> and enabled by OCE<port>.  RST<port> resets both to 0 (synth.bram_regs only
// moves a register into a port whose RST is a constant 0).  Reduced on purpose: 16 words (the
// lowest four address bits of the port's width), CSDECODE 0b000 with the chip selects at 0.
module DP16KD(
  input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
  input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
  input CEA, OCEA, CLKA, WEA, RSTA, input CSA2, CSA1, CSA0,
  output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
  input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
  input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
  input CEB, OCEB, CLKB, WEB, RSTB, input CSB2, CSB1, CSB0,
  output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0);
  parameter DATA_WIDTH_A = 18, DATA_WIDTH_B = 18;
  parameter REGMODE_A = "NOREG", REGMODE_B = "NOREG";
  parameter RESETMODE = "SYNC", ASYNC_RESET_RELEASE = "SYNC", GSR = "ENABLED";
  parameter CSDECODE_A = "0b000", CSDECODE_B = "0b000";
  parameter WRITEMODE_A = "NORMAL", WRITEMODE_B = "NORMAL";
  parameter CLKAMUX = "CLKA", CLKBMUX = "CLKB";
  // the initial contents: accepted and ignored (the toy's memories start empty, as the model's)
  parameter INITVAL_00 = 320'h0, INITVAL_01 = 320'h0, INITVAL_02 = 320'h0, INITVAL_03 = 320'h0, INITVAL_04 =
    320'h0, INITVAL_05 = 320'h0, INITVAL_06 = 320'h0, INITVAL_07 = 320'h0, INITVAL_08 = 320'h0,
    INITVAL_09 = 320'h0, INITVAL_0A = 320'h0, INITVAL_0B = 320'h0, INITVAL_0C = 320'h0, INITVAL_0D =
    320'h0, INITVAL_0E = 320'h0, INITVAL_0F = 320'h0, INITVAL_10 = 320'h0, INITVAL_11 = 320'h0,
    INITVAL_12 = 320'h0, INITVAL_13 = 320'h0, INITVAL_14 = 320'h0, INITVAL_15 = 320'h0, INITVAL_16 =
    320'h0, INITVAL_17 = 320'h0, INITVAL_18 = 320'h0, INITVAL_19 = 320'h0, INITVAL_1A = 320'h0,
    INITVAL_1B = 320'h0, INITVAL_1C = 320'h0, INITVAL_1D = 320'h0, INITVAL_1E = 320'h0, INITVAL_1F =
    320'h0, INITVAL_20 = 320'h0, INITVAL_21 = 320'h0, INITVAL_22 = 320'h0, INITVAL_23 = 320'h0,
    INITVAL_24 = 320'h0, INITVAL_25 = 320'h0, INITVAL_26 = 320'h0, INITVAL_27 = 320'h0, INITVAL_28 =
    320'h0, INITVAL_29 = 320'h0, INITVAL_2A = 320'h0, INITVAL_2B = 320'h0, INITVAL_2C = 320'h0,
    INITVAL_2D = 320'h0, INITVAL_2E = 320'h0, INITVAL_2F = 320'h0, INITVAL_30 = 320'h0, INITVAL_31 =
    320'h0, INITVAL_32 = 320'h0, INITVAL_33 = 320'h0, INITVAL_34 = 320'h0, INITVAL_35 = 320'h0,
    INITVAL_36 = 320'h0, INITVAL_37 = 320'h0, INITVAL_38 = 320'h0, INITVAL_39 = 320'h0, INITVAL_3A =
    320'h0, INITVAL_3B = 320'h0, INITVAL_3C = 320'h0, INITVAL_3D = 320'h0, INITVAL_3E = 320'h0,
    INITVAL_3F = 320'h0;
  wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
  wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
  wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
  wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
  // the word's lowest address bit for a port width (18: AD4, 9: AD3, ...), one word per 18 bits
  localparam SA = DATA_WIDTH_A == 18 ? 4 : DATA_WIDTH_A == 9 ? 3 : DATA_WIDTH_A == 4 ? 2 : DATA_WIDTH_A == 2 ? 1 : 0;
  localparam SB = DATA_WIDTH_B == 18 ? 4 : DATA_WIDTH_B == 9 ? 3 : DATA_WIDTH_B == 4 ? 2 : DATA_WIDTH_B == 2 ? 1 : 0;
  wire [3:0] wa = ada[SA +: 4], wb = adb[SB +: 4];
  reg [17:0] mem [0:15];
  reg [17:0] la = 0, lb = 0, ra = 0, rb = 0;
  integer k;
  initial for (k = 0; k < 16; k = k + 1) mem[k] = 0;
  always @(posedge CLKA) begin
    if (RSTA) la <= 0;
    else if (CEA) begin
      if (WEA) begin
        mem[wa] <= dia;
        if (WRITEMODE_A == "NORMAL") la <= la; else if (WRITEMODE_A == "WRITETHROUGH") la <= dia; else la <= mem[wa];
      end else la <= mem[wa];
    end
    if (RSTA) ra <= 0; else if (OCEA) ra <= la;
  end
  always @(posedge CLKB) begin
    if (RSTB) lb <= 0;
    else if (CEB) begin
      if (WEB) begin
        mem[wb] <= dib;
        if (WRITEMODE_B == "NORMAL") lb <= lb; else if (WRITEMODE_B == "WRITETHROUGH") lb <= dib; else lb <= mem[wb];
      end else lb <= mem[wb];
    end
    if (RSTB) rb <= 0; else if (OCEB) rb <= lb;
  end
  wire [17:0] doa = REGMODE_A == "OUTREG" ? ra : la, dob = REGMODE_B == "OUTREG" ? rb : lb;
  assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
  assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
endmodule

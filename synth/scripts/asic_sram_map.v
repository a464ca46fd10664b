// ASIC memory model of the synthesis report (synth/flow.py, CMOS estimate).
//
// A $mem_v2 memory that has at least one write port, only synchronous (clocked) read ports and at
// least ASIC_SRAM_MIN_BITS bits becomes one ASIC_SRAM black box (an SRAM macro whose bit cells
// are estimated separately); every other memory (ROM tables, small register files, asynchronous
// read) is left alone and later mapped to flip-flops and gates by `synth` (memory_map), so its
// transistors are counted exactly like the rest of the logic.
`ifndef ASIC_SRAM_MIN_BITS
`define ASIC_SRAM_MIN_BITS 1024
`endif

(* techmap_celltype = "$mem_v2" *)
module _asic_sram_map (RD_CLK, RD_EN, RD_ARST, RD_SRST, RD_ADDR, RD_DATA, WR_CLK, WR_EN, WR_ADDR, WR_DATA);
  parameter MEMID = "";
  parameter signed SIZE = 4;
  parameter signed OFFSET = 0;
  parameter signed ABITS = 2;
  parameter signed WIDTH = 8;
  parameter signed INIT = 1'bx;
  parameter signed RD_PORTS = 1;
  parameter RD_CLK_ENABLE = 1'b1;
  parameter RD_CLK_POLARITY = 1'b1;
  parameter RD_TRANSPARENCY_MASK = 1'b0;
  parameter RD_COLLISION_X_MASK = 1'b0;
  parameter RD_WIDE_CONTINUATION = 1'b0;
  parameter RD_CE_OVER_SRST = 1'b0;
  parameter RD_ARST_VALUE = 1'b0;
  parameter RD_SRST_VALUE = 1'b0;
  parameter RD_INIT_VALUE = 1'b0;
  parameter signed WR_PORTS = 1;
  parameter WR_CLK_ENABLE = 1'b1;
  parameter WR_CLK_POLARITY = 1'b1;
  parameter WR_PRIORITY_MASK = 1'b0;
  parameter WR_WIDE_CONTINUATION = 1'b0;

  input [RD_PORTS-1:0] RD_CLK;
  input [RD_PORTS-1:0] RD_EN;
  input [RD_PORTS-1:0] RD_ARST;
  input [RD_PORTS-1:0] RD_SRST;
  input [RD_PORTS*ABITS-1:0] RD_ADDR;
  output [RD_PORTS*WIDTH-1:0] RD_DATA;
  input [WR_PORTS-1:0] WR_CLK;
  input [WR_PORTS*WIDTH-1:0] WR_EN;
  input [WR_PORTS*ABITS-1:0] WR_ADDR;
  input [WR_PORTS*WIDTH-1:0] WR_DATA;

  wire _TECHMAP_FAIL_ = (WR_PORTS < 1) || (RD_PORTS < 1) || (RD_CLK_ENABLE != {RD_PORTS{1'b1}}) ||
                        (SIZE * WIDTH < `ASIC_SRAM_MIN_BITS);

  ASIC_SRAM #(.SIZE(SIZE), .WIDTH(WIDTH), .ABITS(ABITS), .RD_PORTS(RD_PORTS), .WR_PORTS(WR_PORTS))
    _TECHMAP_REPLACE_ (.RD_CLK(RD_CLK), .RD_EN(RD_EN), .RD_ARST(RD_ARST), .RD_SRST(RD_SRST),
                       .RD_ADDR(RD_ADDR), .RD_DATA(RD_DATA), .WR_CLK(WR_CLK), .WR_EN(WR_EN),
                       .WR_ADDR(WR_ADDR), .WR_DATA(WR_DATA));
endmodule

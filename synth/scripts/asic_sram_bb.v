// Black box of an SRAM macro (see asic_sram_map.v); its transistors are estimated per bit cell.
(* blackbox *)
module ASIC_SRAM (RD_CLK, RD_EN, RD_ARST, RD_SRST, RD_ADDR, RD_DATA, WR_CLK, WR_EN, WR_ADDR, WR_DATA);
  parameter SIZE = 4;
  parameter WIDTH = 8;
  parameter ABITS = 2;
  parameter RD_PORTS = 1;
  parameter WR_PORTS = 1;
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
endmodule

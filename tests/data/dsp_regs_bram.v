// A block-RAM word registered into a multiplier operand (tests/test_dsp_regs.py): the pass must
// leave that register in the fabric and still absorb the other operand and the product.
module top(input clk, input [8:0] addr, input [15:0] b, output reg [33:0] p);
  reg [17:0] rom [0:511];
  integer i;
  initial for (i = 0; i < 512; i = i + 1) rom[i] = i * 37;
  reg [17:0] word, ar; reg [15:0] br;
  always @(posedge clk) begin
    word <= rom[addr];   // the block RAM's own read register
    ar <= word;          // fed by the RAM: stays in the fabric
    br <= b;
    p <= ar * br;
  end
endmodule

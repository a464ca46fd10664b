// Operand registers the pass must leave in the fabric (tests/test_dsp_regs.py): a block-RAM word
// registered into a multiplier operand, and an operand behind a carry chain (an adder).  The
// other operands (straight from ports) and the products are absorbed.
module top(input clk, input [8:0] addr, input [15:0] b, input [11:0] x, input [11:0] y, input [11:0] c,
           output reg [33:0] p, output reg [23:0] s);
  reg [17:0] rom [0:511];
  integer i;
  initial for (i = 0; i < 512; i = i + 1) rom[i] = i * 37;
  reg [17:0] word, ar; reg [15:0] br; reg [11:0] xy, cr;
  always @(posedge clk) begin
    word <= rom[addr];   // the block RAM's own read register
    ar <= word;          // fed by the RAM: stays in the fabric
    br <= b;
    p <= ar * br;
    xy <= x + y;         // behind a carry chain: stays in the fabric
    cr <= c;
    s <= xy * cr;
  end
endmodule

// Registered multipliers for tests/test_dsp_regs.py: operand registers with enable and reset,
// an operand register with a load outside the DSP (stays), a product register whose sign bits
// feed several flip-flops, an enabled product register, a product into an adder (no product
// register to absorb), and a product register that is another multiplier's operand (taken once).
module top(input clk, input rst, input en, input en2, input signed [9:0] a, input signed [8:0] b, input [5:0] c,
           output reg signed [22:0] y, output reg [9:0] ar_out, output reg [15:0] z, output reg [17:0] w, output reg [17:0] s);
  reg signed [9:0] ar; reg signed [8:0] br; reg [5:0] cr; reg signed [18:0] p; reg [14:0] q;
  always @(posedge clk) begin
    if (rst) begin ar <= 0; br <= 0; cr <= 0; p <= 0; q <= 0; y <= 0; ar_out <= 0; z <= 0; w <= 0; s <= 0; end
    else begin
      if (en) begin ar <= a; br <= b; end
      cr <= c;
      p <= ar * br;                     // output register, sign bits replicated into y
      y <= p;
      ar_out <= ar;                     // ar has a load outside the DSP: it stays
      if (en2) q <= $unsigned(ar) * cr; // enabled output register
      z <= q;
      w <= (br * $signed({1'b0, cr})) + 5; // product into an adder: no output register
      s <= p[8:0] * br;                 // a product register as another multiplier's operand
    end
  end
endmodule

// Toy for tests/test_bram_regs.py: four block-RAM read ports, registered after the read in the
// ways synth.bram_regs must and must not move into the RAM.
module top(input clk, input rst, input we, input en, input [7:0] wa, input [7:0] ra, input [8:0] wd,
           output reg [8:0] q1b, output reg [8:0] q2, output reg [8:0] q3, output reg [8:0] q4);
  (* ram_style = "block", no_rw_check *) reg [8:0] m1 [0:255];
  (* ram_style = "block", no_rw_check *) reg [8:0] m2 [0:255];
  (* ram_style = "block", no_rw_check *) reg [8:0] m3 [0:255];
  (* ram_style = "block", no_rw_check *) reg [8:0] m4 [0:255];
  reg [8:0] r1, r2, r3, r4, q1;
  always @(posedge clk) begin
    if (we) begin m1[wa] <= wd; m2[wa] <= wd ^ 9'h0a5; m3[wa] <= wd + 9'd3; m4[wa] <= ~wd; end
    r1 <= m1[ra]; r2 <= m2[ra]; r3 <= m3[ra]; r4 <= m4[ra];
    q1 <= r1;                        // moves: a plain register
    q1b <= q1;
    if (en) q2 <= r2;                // moves: the enable becomes OCE
    if (rst) q3 <= 0; else q3 <= r3; // stays: a reset
    q4 <= r4 ^ {r4[7:0], 1'b0};      // stays: logic between the RAM and the register
  end
endmodule

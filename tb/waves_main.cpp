// Waveform window, scope and depth for cocotb's Verilator main (see tb/waves.py and
// docs/verification.md).
//
// cocotb's share/lib/verilator/verilator.cpp is compiled unchanged: it is #included below after
// the trace class it instantiates (VerilatedFstC or VerilatedVcdC) has been replaced, by a macro,
// with a subclass that
//   * restricts the dump to the instance +adapsne_waves_scope=<a.b.c> and <depth> levels below it
//     (+adapsne_waves_depth=<n>; Verilator's VerilatedTrace::dumpvars(), applied before open()),
//   * writes only the time steps inside [+adapsne_waves_from_ns, +adapsne_waves_to_ns]: the main
//     loop calls dump() every time step; outside the window the call is dropped, and the first
//     call inside it writes the full state (Verilator's first dump is a full dump).
// The build directory's adapsne_main.cpp defines ADAPSNE_COCOTB_MAIN (path of cocotb's file) and
// includes this file.  Verilog $dumpoff/$dumpon cannot do this: Verilator 5.048 ignores them.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "verilated.h"

#if VM_TRACE && !VM_TRACE_SAIF
#if VM_TRACE_FST
#include "verilated_fst_c.h"
typedef VerilatedFstC AdapsneTraceBase;
#else
#include "verilated_vcd_c.h"
typedef VerilatedVcdC AdapsneTraceBase;
#endif

// Value of the plusarg +<name>=<value> into `out`; false when it was not given.  (Copied:
// commandArgsPlusMatch returns a buffer that the next call overwrites.)
static bool adapsne_plusarg(const char* name, std::string& out) {
    const char* match = Verilated::commandArgsPlusMatch(name);
    if (!match || !*match) return false;
    out = match + 1 + std::string(name).size();  // skip "+<name>"
    return true;
}

class AdapsneTrace : public AdapsneTraceBase {
    uint64_t m_from = 0;
    uint64_t m_to = UINT64_MAX;

    // ns -> simulator precision units (main_time counts those)
    static uint64_t ns_to_ticks(const std::string& text) {
        const double per_ns = std::pow(10.0, -9 - Verilated::threadContextp()->timeprecision());
        return static_cast<uint64_t>(std::llround(std::strtod(text.c_str(), nullptr) * per_ns));
    }

  public:
    AdapsneTrace() {
        std::string v;
        if (adapsne_plusarg("adapsne_waves_from_ns=", v)) m_from = ns_to_ticks(v);
        if (adapsne_plusarg("adapsne_waves_to_ns=", v)) m_to = ns_to_ticks(v);
    }
    void open(const char* filename) override {
        std::string scope, depth;
        if (adapsne_plusarg("adapsne_waves_scope=", scope)) {
            // depth 0 (or none) = every level below the scope, as in Verilog's $dumpvars
            int levels = adapsne_plusarg("adapsne_waves_depth=", depth) ? std::atoi(depth.c_str()) : 0;
            if (levels <= 0) levels = 1 << 30;
            AdapsneTraceBase::dumpvars(levels, scope);
        }
        AdapsneTraceBase::open(filename);
    }
    void dump(uint64_t t) {
        if (t >= m_from && t <= m_to) AdapsneTraceBase::dump(t);
    }
};

#if VM_TRACE_FST
#define VerilatedFstC AdapsneTrace
#else
#define VerilatedVcdC AdapsneTrace
#endif
#endif  // VM_TRACE && !VM_TRACE_SAIF

#include ADAPSNE_COCOTB_MAIN

package bench

import (
	"testing"
	"time"
)

// cpuMeter measures the CPU time the whole process (client, servers,
// garbage collector) spends on a benchmark's loop. Wall time per call
// moves with how this VM wakes threads; CPU time per call is the cost,
// and is steadier from run to run.
type cpuMeter struct{ start time.Duration }

// startCPU starts a cpuMeter; call it just before the benchmark loop.
func startCPU() cpuMeter { return cpuMeter{processCPU()} }

// report adds cpu-ns/op, the process's CPU time per call of the loop
// that just ended, to b's results (where the platform tells it).
func (m cpuMeter) report(b *testing.B) {
	if used := processCPU() - m.start; used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// Entry point: BenchmarkDotNet's switcher runs whichever [Benchmark] classes this assembly holds (none yet).
// It exists so that LeNet.Gpu.sln builds; the benchmarks themselves are another task's work.
BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

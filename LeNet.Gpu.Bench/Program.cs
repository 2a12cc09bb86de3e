using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using LeNet.Gpu.Bench;

// `--quick`: a few short iterations per case (about a second per case where a call is fast), for CI smoke runs and
// short GPU leases.
// Anything else goes to BenchmarkDotNet's own switcher (e.g. --filter '*Inference*').
// `--probabilities [MODEL] [DEVICE] [PATH]`: probabilities of fixed images, to compare with pytorch/lenet5_bench.py --check.
if (args.FirstOrDefault() == "--probabilities") return CheckInputs.Run(args[1..]);
// `--check [--device cuda] [--data DIR] [--batches …]`: per-layer and fused against the CPU engine at the benchmarked batch sizes.
if (args.FirstOrDefault() == "--check") return CorrectnessCheck.Run(args[1..]);
// `--share [--rounds N] [--seconds S] [--versus DIR]`: the CPU engine's share of the FMA ceiling, ONNX Runtime beside it,
// all interleaved in this process (ShareReport).
if (args.FirstOrDefault() == "--share") return ShareReport.Run(args[1..]);
// `--layers [--rounds N]`: one tile's forward pass layer by layer on one thread, each layer's share of the ceiling.
// `--pattern [--rounds N]`: a per-pattern training step's pieces on one thread, in CPU time.
if (args.FirstOrDefault() == "--pattern") return PatternProfile.Run(args[1..]);
if (args.FirstOrDefault() == "--layers") return LayerProfile.Run(args[1..]);
// `--squash [REPETITIONS]`: the scaled tanh over one tile's S2 sums, in CPU time, beside a two-pass variant.
if (args.FirstOrDefault() == "--squash") return SquashProfile.Run(args[1..]);
// `--devices`: the engines found and, for an absent CUDA or OpenCL, which driver library was looked for and what failed.
if (args.FirstOrDefault() == "--devices") return DeviceReport.Run();
// `--in-process`: every case runs in this process (BenchmarkDotNet's in-process toolchain), so no .NET SDK is
// needed: the self-contained build of pack-gpu.sh runs on a machine with no .NET (the lent GPU machines).
// LENET_BENCH_DEVICES=cuda,... limits the devices (Devices.Present).
bool quick = args.Contains("--quick");
bool inProcess = args.Contains("--in-process");
var rest = args.Where(a => a != "--quick" && a != "--in-process").ToArray();
var config = DefaultConfig.Instance
    .AddColumn(new ImagesPerSecondColumn())
    .AddColumn(new CeilingRateColumn())
    .WithOptions(ConfigOptions.JoinSummary);
// Quick: one launch, one warm-up and three iterations of about 100 ms each (BenchmarkDotNet's default aims at 500 ms),
// so a case costs about a second wherever one call is faster than that.
var job = quick
    ? Job.ShortRun.WithWarmupCount(1).WithIterationCount(3).WithLaunchCount(1)
        .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(100)).WithId("quick")
    : null;
if (inProcess)
    job = (job ?? Job.Default.WithId("in-process")).WithToolchain(InProcessEmitToolchain.Instance);
if (job is not null)
    config = config.AddJob(job);
if (rest.Length == 0) rest = ["--filter", "*"];
var summaries = BenchmarkSwitcher.FromAssembly(typeof(InferenceBenchmarks).Assembly).Run(rest, config).ToList();
// Exit 1 when a case failed (an exception in setup or in a call) or nothing ran, so scripts and CI see it.
bool listing = rest.Any(a => a.StartsWith("--list", StringComparison.Ordinal) || a is "--help" or "-h" or "-?" or "--version" or "--info");
bool failed = (summaries.Count == 0 && !listing) || summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
return failed ? 1 : 0;

using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using LeNet.Gpu.Bench;

// `--quick`: a few short iterations per case (about a minute in all), for CI smoke runs and short GPU leases.
// Anything else goes to BenchmarkDotNet's own switcher (e.g. --filter '*Inference*').
bool quick = args.Contains("--quick");
var rest = args.Where(a => a != "--quick").ToArray();
var config = DefaultConfig.Instance
    .AddColumn(new ImagesPerSecondColumn())
    .WithOptions(ConfigOptions.JoinSummary);
if (quick)
    config = config.AddJob(Job.ShortRun.WithWarmupCount(1).WithIterationCount(3).WithLaunchCount(1).WithId("quick"));
if (rest.Length == 0) rest = ["--filter", "*"];
BenchmarkSwitcher.FromAssembly(typeof(InferenceBenchmarks).Assembly).Run(rest, config);

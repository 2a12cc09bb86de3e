using System.CommandLine;
using System.Diagnostics;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using Spectre.Console;

namespace LeNet.Gpu.Cli.Commands;

/// <summary>
/// A quick inference throughput table (well under a minute); on the CPU engine, with its share of the FMA floor
/// (<see cref="FmaCeiling"/>, measured in rounds interleaved with the engine's). The careful, side-by-side measurements with peers
/// are LeNet.Gpu.Bench's (BenchmarkDotNet); this is a first look on the user's own device.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var device = Common.Device();
        var json = Common.Json();
        var batches = new Option<int[]>("--batch-sizes") { Description = "batch sizes to time", DefaultValueFactory = _ => [1, 64, 1024], AllowMultipleArgumentsPerToken = true };
        var seconds = new Option<double>("--seconds") { Description = "time spent per batch size", DefaultValueFactory = _ => 3 };
        var command = new Command("bench", "Inference images/s by batch size on the chosen device") { device, json, batches, seconds };
        command.SetAction(parse => Common.Run(() =>
        {
            var sizes = parse.GetValue(batches)!;
            if (sizes.Length == 0 || sizes.Any(s => s < 1 || s > 1 << 20)) throw new UsageException("batch sizes must be 1 to 1,048,576");
            double budget = parse.GetValue(seconds);
            if (!(budget > 0 && budget <= 600)) throw new UsageException($"--seconds must be in (0, 600], got {budget}");
            var kind = Engines.Resolve(Common.ParseDevice(parse.GetValue(device)!));
            var model = LeNetModel.CreateRandom(1);
            var random = new Random(2);
            DeviceDescription description = null!;
            var rows = new List<(int Batch, int Calls, double ImagesPerSecond, double MillisecondsPerBatch, double? Share)>();
            double? ceiling = null;
            foreach (int size in sizes)
            {
                var images = new float[(long)size * Architecture.InputLength];
                for (long i = 0; i < images.Length; i++) images[i] = (float)InputField.FromInkFraction(random.NextDouble());
                using var engine = Engines.CreateInference(model, kind, size);
                description = engine.Device;
                engine.Predict(images); // warm-up: first launches
                if (kind == DeviceKind.Cpu)
                {
                    // The CPU engine against this machine's FMA ceiling, in rounds interleaved with it: the share of
                    // the forward floor (326,520 multiply-adds an image) is what the load of the neighbours leaves alone.
                    const int Rounds = 5;
                    int calls = 0;
                    var (median, measuredCeiling, share) = MachineFloor.Measure(() => { engine.Predict(images); calls++; }, size,
                        MultiplyAdds.Forward, Rounds, budget / (2 * Rounds));
                    ceiling = measuredCeiling;
                    rows.Add((size, calls, median, size * 1000 / median, share));
                    continue;
                }
                int n = 0;
                var clock = Stopwatch.StartNew();
                do { engine.Predict(images); n++; } while (clock.Elapsed.TotalSeconds < budget);
                double elapsed = clock.Elapsed.TotalSeconds;
                rows.Add((size, n, (double)size * n / elapsed, elapsed * 1000 / n, null));
            }
            if (parse.GetValue(json))
            {
                Common.WriteJson(new
                {
                    device = description.Kind.ToName(),
                    device_name = description.Name,
                    fma_ceiling_multiply_adds_per_second = ceiling,
                    results = rows.Select(r => new { batch_size = r.Batch, calls = r.Calls, images_per_second = r.ImagesPerSecond, milliseconds_per_batch = r.MillisecondsPerBatch, share_of_fma_floor = r.Share }),
                });
                return ExitCodes.Success;
            }
            var table = new Table().Title(Markup.Escape($"inference on {description}")).AddColumns("Batch", "Calls", "ms/batch", "images/s");
            if (ceiling is not null) table.AddColumn("share of FMA floor");
            foreach (var r in rows)
            {
                string[] cells = [r.Batch.ToString("N0"), r.Calls.ToString(), r.MillisecondsPerBatch.ToString("0.00"), r.ImagesPerSecond.ToString("N0")];
                table.AddRow(r.Share is { } share ? [.. cells, share.ToString("0.00")] : cells);
            }
            AnsiConsole.Write(table);
            if (ceiling is { } c)
                AnsiConsole.WriteLine($"FMA ceiling ({MachineFloor.Vectors}, {Environment.ProcessorCount} threads, " +
                    $"median of the rounds interleaved with the last batch size's): {c / 1e9:N1} G multiply-adds/s, a floor of " +
                    $"{c / MultiplyAdds.Forward:N0} images/s at {MultiplyAdds.Forward:N0} multiply-adds an image");
            return ExitCodes.Success;
        }));
        return command;
    }
}

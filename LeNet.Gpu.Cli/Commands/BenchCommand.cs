using System.CommandLine;
using System.Diagnostics;
using LeNet.Gpu.Model;
using LeNet.Gpu.Runtime;
using Spectre.Console;

namespace LeNet.Gpu.Cli.Commands;

/// <summary>
/// A quick inference throughput table (well under a minute). The careful, side-by-side measurements with peers
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
            var rows = new List<(int Batch, int Calls, double ImagesPerSecond, double MillisecondsPerBatch)>();
            foreach (int size in sizes)
            {
                var images = new float[(long)size * IInferenceEngine.ImageFloats];
                for (long i = 0; i < images.Length; i++) images[i] = (float)InputField.FromInkFraction(random.NextDouble());
                using var engine = Engines.CreateInference(model, kind, size);
                description = engine.Device;
                engine.Predict(images); // warm-up: first launches
                int calls = 0;
                var clock = Stopwatch.StartNew();
                do { engine.Predict(images); calls++; } while (clock.Elapsed.TotalSeconds < budget);
                double elapsed = clock.Elapsed.TotalSeconds;
                rows.Add((size, calls, (double)size * calls / elapsed, elapsed * 1000 / calls));
            }
            if (parse.GetValue(json))
            {
                Common.WriteJson(new
                {
                    device = description.Kind.ToName(),
                    device_name = description.Name,
                    results = rows.Select(r => new { batch_size = r.Batch, calls = r.Calls, images_per_second = r.ImagesPerSecond, milliseconds_per_batch = r.MillisecondsPerBatch }),
                });
                return ExitCodes.Success;
            }
            var table = new Table().Title(Markup.Escape($"inference on {description}")).AddColumns("Batch", "Calls", "ms/batch", "images/s");
            foreach (var r in rows)
                table.AddRow(r.Batch.ToString("N0"), r.Calls.ToString(), r.MillisecondsPerBatch.ToString("0.00"), r.ImagesPerSecond.ToString("N0"));
            AnsiConsole.Write(table);
            return ExitCodes.Success;
        }));
        return command;
    }
}

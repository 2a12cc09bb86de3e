using System.Diagnostics;
using System.Globalization;
using System.Text;
using LeNet.Gpu.Model;
using LeNet.Gpu.Cpu;
using LeNet.Gpu.Data;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Serialization;

namespace LeNet.Gpu.Bench;

/// <summary>
/// Correctness at the batch sizes the benchmarks time: the per-layer and fused paths of an ILGPU device, from floats
/// and from bytes, against the CPU engine, image by image, on MNIST's 10,000 test images (random images when the
/// data is absent), repeated to fill batches larger than that. Run by
/// <c>LeNet.Gpu.Bench --check [--device cuda] [--data DIR] [--batches 1,64,1024,16384,65536] [--images N]
/// [--tolerance 1e-5] [--model lenet5-digits] [--output FILE]</c>; exit 1 when any case misses.
/// A case passes when no probability differs from the CPU engine's by more than the tolerance and the classes agree
/// wherever the CPU engine's two best probabilities are more than twice the tolerance apart.
/// </summary>
public static class CorrectnessCheck
{
    public sealed record Options(DeviceKind Device, string? Data, int[] Batches, int Images, float Tolerance, string Model, string? Output);

    public static Options Parse(string[] args)
    {
        var device = DeviceKind.Cuda;
        string? data = Environment.GetEnvironmentVariable("LENET_CHECK_DATA"), output = null;
        int[] batches = [1, 64, 1024, 16384, 65536];
        int images = 10_000;
        float tolerance = 1e-5f;
        string model = ShippedModels.Digits;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--device": device = DeviceKindExtensions.ParseDeviceKind(Value()); break;
                case "--data": data = Value(); break;
                case "--batches": batches = Value().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(b => PositiveInt(b, "batch")).ToArray(); break;
                case "--images": images = PositiveInt(Value(), "--images"); break;
                case "--tolerance": tolerance = float.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--model": model = Value(); break;
                case "--output": output = Value(); break;
                default: throw new ArgumentException($"unknown option '{args[i]}' (--device, --data, --batches, --images, --tolerance, --model, --output)");
            }
        }
        if (device is DeviceKind.Cpu or DeviceKind.Auto) throw new ArgumentException("--device must name an ILGPU device (cuda, opencl, ilgpu-cpu): the CPU engine is the reference");
        if (batches.Length == 0) throw new ArgumentException("--batches is empty");
        if (!(tolerance > 0)) throw new ArgumentException($"--tolerance {tolerance} must be positive");
        return new Options(device, data, batches, images, tolerance, model, output);
    }

    private static int PositiveInt(string text, string what) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : throw new ArgumentException($"{what} '{text}' is not a positive whole number");

    /// <summary>The images: MNIST's test split from <paramref name="data"/> (floats and raw bytes), else seeded random ones.</summary>
    public static (float[] Floats, byte[] Bytes, int[]? Labels, string Source) Inputs(string? data, int count)
    {
        if (data is not null && IdxDirectory.FindFile(data, DataSplit.Test, labels: false) is not null)
        {
            var test = IdxDirectory.Load(data, DataSplit.Test, classNames: ClassNames.Digits);
            if (test.RawPixels is not null && test.RawWidth == 28 && test.RawHeight == 28)
            {
                int n = Math.Min(count, test.Count);
                return (test.Images.AsSpan(0, n * Architecture.InputLength).ToArray(),
                        test.RawPixels.AsSpan(0, n * InputField.MnistLength).ToArray(),
                        test.Labels.AsSpan(0, n).ToArray(), $"{test.Name} from {data}, first {n:N0} images");
            }
        }
        string why = data is null ? "no --data" : $"no MNIST test images in {data}";
        return (BenchInputs.Images(count, seed: 5), BenchInputs.Bytes(count, seed: 5), null, $"{count:N0} random images ({why})");
    }

    /// <summary>Images 0 … n−1 of <paramref name="source"/>, repeating it: a batch larger than the data set is still full.</summary>
    private static T[] Repeat<T>(T[] source, int perImage, int n)
    {
        int have = source.Length / perImage;
        if (n <= have) return source.AsSpan(0, n * perImage).ToArray();
        var result = new T[(long)n * perImage];
        for (int i = 0; i < n; i += have)
            source.AsSpan(0, Math.Min(have, n - i) * perImage).CopyTo(result.AsSpan(i * perImage));
        return result;
    }

    public sealed record Row(InferencePath Path, ImageFormat Input, int Batch, int Images, double MaxDifference, int ClassesDiffering,
        int ClearDisagreements, double? Accuracy, double Seconds, bool Passed);

    public static int Run(string[] args)
    {
        Options options;
        try { options = Parse(args); }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine($"--check: {e.Message}");
            return 2;
        }
        try
        {
            var (text, passed) = Check(options, line => Console.Error.WriteLine(line));
            Console.Write(text);
            if (options.Output is not null) AtomicFile.WriteAllBytes(options.Output, Encoding.UTF8.GetBytes(text));
            return passed ? 0 : 1;
        }
        catch (Exception e) when (e is DeviceNotFoundException or IOException or ModelFormatException or DataFormatException or DataNotFoundException)
        {
            Console.Error.WriteLine($"--check: {e.Message}");
            return 1;
        }
    }

    /// <summary>Runs every case; returns the markdown report and whether all passed. <paramref name="log"/> gets progress.</summary>
    public static (string Report, bool Passed) Check(Options o, Action<string> log)
    {
        var model = ShippedModels.Resolve(o.Model);
        var (floats, bytes, labels, source) = Inputs(o.Data, o.Images);
        int count = labels?.Length ?? o.Images;
        log($"check: {source}; reference: the CPU engine");
        Prediction referenceFloats, referenceBytes;
        using (var cpu = new CpuInferenceEngine(model))
        {
            referenceFloats = cpu.Predict(floats);
            referenceBytes = cpu.PredictMnist(bytes);
        }
        using var accelerator = LeNetAccelerator.Create(o.Device);
        log($"check: {accelerator.Description}");
        var rows = new List<Row>();
        foreach (int batch in o.Batches)
            foreach (var path in new[] { InferencePath.PerLayer, InferencePath.Fused })
                foreach (var input in new[] { ImageFormat.Floats, ImageFormat.MnistBytes })
                {
                    // At least the data set, and at least one full batch.
                    int n = Math.Max(count, batch);
                    var watch = Stopwatch.StartNew();
                    using var engine = new IlgpuInferenceEngine(model, accelerator, batch, path);
                    var prediction = input == ImageFormat.Floats
                        ? engine.Predict(Repeat(floats, Architecture.InputLength, n))
                        : engine.PredictMnist(Repeat(bytes, InputField.MnistLength, n));
                    double seconds = watch.Elapsed.TotalSeconds;
                    var row = Compare(path, input, batch, n, prediction, input == ImageFormat.Floats ? referenceFloats : referenceBytes, count, labels, o.Tolerance, seconds);
                    log($"check: {Format(row)}");
                    rows.Add(row);
                }
        var report = new StringBuilder()
            .AppendLine($"Correctness on {accelerator.Description}: per-layer and fused against the CPU engine, {source} (repeated to fill larger batches); model {o.Model}; tolerance {o.Tolerance:g} on every probability")
            .AppendLine()
            .AppendLine("| path | input | batch | images | max \\|Δp\\| | classes differing (clear) | accuracy | seconds | result |")
            .AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in rows) report.AppendLine(Format(r));
        bool passed = rows.All(r => r.Passed);
        report.AppendLine().AppendLine(passed ? $"all {rows.Count} cases pass" : $"{rows.Count(r => !r.Passed)} of {rows.Count} cases FAIL");
        return (report.ToString(), passed);
    }

    internal static Row Compare(InferencePath path, ImageFormat input, int batch, int n, Prediction got, Prediction reference, int count,
        int[]? labels, float tolerance, double seconds)
    {
        double worst = 0;
        int differing = 0, clear = 0, correct = 0;
        for (int i = 0; i < n; i++)
        {
            var mine = got.ProbabilitiesOf(i);
            var theirs = reference.ProbabilitiesOf(i % count);
            for (int c = 0; c < 10; c++)
            {
                double difference = Math.Abs((double)mine[c] - theirs[c]);
                worst = Math.Max(worst, double.IsNaN(difference) ? double.PositiveInfinity : difference);
            }
            int expected = reference.Classes[i % count];
            if (got.Classes[i] != expected)
            {
                differing++;
                if (Margin(theirs) > 2 * tolerance) clear++;
            }
            if (labels is not null && got.Classes[i] == labels[i % count]) correct++;
        }
        return new Row(path, input, batch, n, worst, differing, clear, labels is null ? null : (double)correct / n, seconds,
            worst <= tolerance && clear == 0);
    }

    private static double Margin(ReadOnlySpan<float> p)
    {
        float best = float.NegativeInfinity, second = float.NegativeInfinity;
        foreach (float v in p)
        {
            if (v > best) (best, second) = (v, best);
            else if (v > second) second = v;
        }
        return best - second;
    }

    private static string Format(Row r) => string.Create(CultureInfo.InvariantCulture,
        $"| {(r.Path == InferencePath.Fused ? "fused" : "per-layer")} | {(r.Input == ImageFormat.Floats ? "floats" : "bytes")} | {r.Batch:N0} | {r.Images:N0} | {r.MaxDifference:0.##e+0} | {r.ClassesDiffering} ({r.ClearDisagreements}) | {(r.Accuracy is double a ? a.ToString("P2", CultureInfo.InvariantCulture) : "n/a")} | {r.Seconds:0.00} | {(r.Passed ? "pass" : "FAIL")} |");
}

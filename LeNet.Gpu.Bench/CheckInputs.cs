using System.Globalization;
using System.Text;
using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;
using LeNet.Gpu.Ilgpu;
using LeNet.Gpu.Serialization;

namespace LeNet.Gpu.Bench;

/// <summary>
/// Deterministic input images and the probabilities of a model on them, one line per image, for comparing with
/// the PyTorch peer (<c>pytorch/lenet5_bench.py --check</c>, which builds the same images with the same formula).
/// Run by <c>LeNet.Gpu.Bench --probabilities [MODEL] [DEVICE] [PATH]</c>.
/// </summary>
public static class CheckInputs
{
    public const int Count = 8;

    /// <summary>
    /// Image k, pixel (y, x): −0.1 + 1.275 · (((37k + 11y + 7x) mod 23) / 22), computed in double and rounded to
    /// float (the paper's input range; the Python script computes exactly the same numbers).
    /// </summary>
    public static float[] Images()
    {
        var images = new float[Count * Architecture.InputLength];
        for (int k = 0; k < Count; k++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    images[(k * 32 + y) * 32 + x] = (float)InputField.FromInkFraction((k * 37 + y * 11 + x * 7) % 23 / 22.0);
        return images;
    }

    /// <summary>Lines "k p0 … p9" (9 significant digits: a float round-trips).</summary>
    public static string Probabilities(string model, DeviceKind device, InferencePath? path)
    {
        var lenet = ShippedModels.Resolve(model);
        using var engine = device is DeviceKind.Cpu || path is null
            ? Engines.CreateInference(lenet, device, Count)
            : IlgpuInferenceEngine.Create(lenet, device, Count, path);
        var prediction = engine.Predict(Images());
        var text = new StringBuilder();
        for (int k = 0; k < Count; k++)
        {
            text.Append(k.ToString(CultureInfo.InvariantCulture));
            foreach (float p in prediction.ProbabilitiesOf(k))
                text.Append(' ').Append(p.ToString("G9", CultureInfo.InvariantCulture));
            text.Append('\n');
        }
        return text.ToString();
    }

    /// <summary>`--probabilities [MODEL] [DEVICE] [PATH]`: MODEL a file or shipped name (lenet5-digits), DEVICE
    /// cpu|cuda|opencl|ilgpu-cpu|auto (cpu), PATH per-layer|fused (the device's default).
    /// Exit 1 with one line on stderr when the device, model or path is not there (run-gpu.sh logs it and goes on).</summary>
    public static int Run(string[] args)
    {
        try
        {
            string model = args.Length > 0 ? args[0] : ShippedModels.Digits;
            var device = args.Length > 1 ? DeviceKindExtensions.ParseDeviceKind(args[1]) : DeviceKind.Cpu;
            InferencePath? path = args.Length > 2
                ? args[2].ToLowerInvariant() switch
                {
                    "per-layer" or "perlayer" => InferencePath.PerLayer,
                    "fused" => InferencePath.Fused,
                    _ => throw new ArgumentException($"path '{args[2]}' is neither per-layer nor fused"),
                }
                : null;
            Console.Write(Probabilities(model, device, path));
            return 0;
        }
        catch (Exception e) when (e is DeviceNotFoundException or ArgumentException or IOException or LeNet.Gpu.Serialization.ModelFormatException)
        {
            Console.Error.WriteLine($"--probabilities: {e.Message}");
            return 1;
        }
    }
}

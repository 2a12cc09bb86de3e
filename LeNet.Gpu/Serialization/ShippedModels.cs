using System.Reflection;
using LeNet.Gpu.Model;

namespace LeNet.Gpu.Serialization;

/// <summary>
/// The models this project trained and ships inside the library (embedded safetensors files), so inference
/// works with no file at hand, and the one rule for naming a model: a file path, else a shipped name.
/// </summary>
public static class ShippedModels
{
    public const string Mnist = "lenet5-mnist", Digits = "lenet5-digits", Fashion = "lenet5-fashion";

    /// <summary>The paper's network (RBF output) trained on MNIST by the paper's recipe (<c>lenet train --recipe paper</c>).</summary>
    public const string Paper = "lenet5-paper";

    /// <summary>The same recipe with the training images distorted anew every pass (<c>--recipe paper --distort</c>).</summary>
    public const string PaperDistorted = "lenet5-paper-distorted";

    /// <summary>The model commands use when none is named: MNIST's, the paper's benchmark (a digit drawn on the web page
    /// looks more like MNIST than like anything else shipped).</summary>
    public const string Default = Mnist;

    public static IReadOnlyList<string> Names { get; } = [Mnist, Digits, Fashion, Paper, PaperDistorted];

    public static bool IsAvailable(string name) => Stream(name) is { } s && s.Length > 0 && Dispose(s);

    public static LeNetModel Load(string name)
    {
        using var stream = Stream(name)
            ?? throw new ArgumentException($"no shipped model named '{name}' (shipped: {string.Join(", ", Names)})");
        return ModelFile.Load(stream, $"shipped model {name}");
    }

    /// <summary>A path to an existing file loads that file; otherwise the name must be a shipped model.</summary>
    public static LeNetModel Resolve(string nameOrPath)
    {
        if (File.Exists(nameOrPath)) return ModelFile.Load(nameOrPath);
        if (Names.Contains(nameOrPath)) return Load(nameOrPath);
        throw new ArgumentException(
            $"model '{nameOrPath}' is neither a file nor a shipped model ({string.Join(", ", Names)})");
    }

    private static Stream? Stream(string name) =>
        typeof(ShippedModels).Assembly.GetManifestResourceStream($"LeNet.Gpu.Shipped.{name}.safetensors");

    private static bool Dispose(Stream s)
    {
        s.Dispose();
        return true;
    }
}

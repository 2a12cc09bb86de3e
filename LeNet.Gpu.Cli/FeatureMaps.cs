using LeNet.Gpu.Model;
using LeNet.Gpu.Engine;

namespace LeNet.Gpu.Cli;

/// <summary>
/// One layer's output for one image: <see cref="Maps"/> maps of <see cref="Height"/>×<see cref="Width"/> values,
/// map-major and row-major. A vector layer (C5, F6) is one map of 1×n.
/// </summary>
public sealed record FeatureLayer(string Key, string Name, int Maps, int Height, int Width, float[] Values)
{
    public bool IsVector => Maps == 1 && Height == 1;
    public int MapLength => Height * Width;
    public ReadOnlySpan<float> Map(int map) => Values.AsSpan(map * MapLength, MapLength);

    /// <summary>The layer's shape as the web API reports it: [maps, height, width], or [n] for a vector.</summary>
    public int[] Shape => IsVector ? [Width] : [Maps, Height, Width];

    /// <summary>Largest magnitude in the layer (at least a tiny value), for a scale symmetric about zero.</summary>
    public float MaxAbs
    {
        get
        {
            float m = 1e-6f;
            foreach (float v in Values) if (float.IsFinite(v)) m = Math.Max(m, Math.Abs(v));
            return m;
        }
    }
}

/// <summary>The network's layers for one image, in the order the paper draws them, plus the prediction.</summary>
public sealed record FeatureMaps(IReadOnlyList<FeatureLayer> Layers, float[] Probabilities, int Class)
{
    public FeatureLayer this[string key] => Layers.First(l => l.Key == key);

    /// <summary>A layer's key (as the web API names it), title, and shape: maps × height × width.</summary>
    public sealed record LayerSpec(string Key, string Name, int Maps, int Height, int Width)
    {
        public bool IsVector => Maps == 1 && Height == 1;
        public int[] Shape => IsVector ? [Width] : [Maps, Height, Width];
    }

    /// <summary>
    /// The layers drawn, in the order the paper's Figure 2 draws them: every layer of the architecture up to F6
    /// (the output is drawn as the probabilities). A vector layer (C5, F6) is one map of 1×n.
    /// </summary>
    public static IReadOnlyList<LayerSpec> Describe() =>
        Architecture.Layers.Where(l => l.Layer != Layer.Output).Select(Spec).ToList();

    private static LayerSpec Spec(LayerInfo l)
    {
        string shape = l.IsVector ? $"{l.Maps}" : $"{l.Maps}@{l.Size}×{l.Size}";
        string title = l.Layer == Layer.Input ? $"{l.Name} {shape}" : $"{l.Name} {shape} ({l.Description})";
        return l.IsVector
            ? new LayerSpec(l.Name.ToLowerInvariant(), title, 1, 1, l.Maps)
            : new LayerSpec(l.Name.ToLowerInvariant(), title, l.Maps, l.Size, l.Size);
    }

    /// <summary>Image <paramref name="image"/> of a trace, cut into layers (the trace is image-major).</summary>
    public static FeatureMaps From(LayerOutputs trace, int image = 0)
    {
        if (image < 0 || image >= trace.Count) throw new ArgumentOutOfRangeException(nameof(image));
        var layers = Describe().Select((spec, i) =>
        {
            int per = spec.Maps * spec.Height * spec.Width;
            return new FeatureLayer(spec.Key, spec.Name, spec.Maps, spec.Height, spec.Width,
                trace.Of((Layer)i).AsSpan(image * per, per).ToArray());
        }).ToList();
        var probabilities = trace.Probabilities.AsSpan(image * Architecture.Classes, Architecture.Classes).ToArray();
        return new FeatureMaps(layers, probabilities, trace.Classes[image]);
    }
}

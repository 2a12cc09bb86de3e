using LeNet.Gpu.Data;
using LeNet.Gpu.Model;
using LeNet.Gpu.Runtime;

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

    /// <summary>The layers drawn, in the order the paper's Figure 2 draws them (the output is the probabilities).</summary>
    public static IReadOnlyList<LayerSpec> Describe() =>
    [
        new("input", "INPUT 1@32×32", 1, Dataset.Side, Dataset.Side),
        new("c1", "C1 6@28×28 (convolution)", 6, 28, 28),
        new("s2", "S2 6@14×14 (subsampling)", 6, 14, 14),
        new("c3", "C3 16@10×10 (convolution, Table I)", 16, 10, 10),
        new("s4", "S4 16@5×5 (subsampling)", 16, 5, 5),
        new("c5", "C5 120 (convolution)", 1, 1, 120),
        new("f6", "F6 84 (full connection)", 1, 1, 84),
    ];

    /// <summary>Image <paramref name="image"/> of a trace, cut into layers (the trace is image-major).</summary>
    public static FeatureMaps From(LayerOutputs trace, int image = 0)
    {
        if (image < 0 || image >= trace.Count) throw new ArgumentOutOfRangeException(nameof(image));
        float[][] sources = [trace.Input, trace.C1, trace.S2, trace.C3, trace.S4, trace.C5, trace.F6];
        var layers = Describe().Select((spec, i) =>
        {
            int per = spec.Maps * spec.Height * spec.Width;
            return new FeatureLayer(spec.Key, spec.Name, spec.Maps, spec.Height, spec.Width,
                sources[i].AsSpan(image * per, per).ToArray());
        }).ToList();
        var probabilities = trace.Probabilities.AsSpan(image * Architecture.Classes, Architecture.Classes).ToArray();
        return new FeatureMaps(layers, probabilities, trace.Classes[image]);
    }
}

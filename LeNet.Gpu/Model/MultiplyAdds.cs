namespace LeNet.Gpu.Model;

/// <summary>
/// The arithmetic floor of LeNet-5 per image, counted from the layer table (<see cref="Architecture.Layers"/>):
/// the multiply-adds of the weighted layers (C1, C3, C5, F6, OUTPUT), each layer's connections less its one bias
/// connection per output. Subsampling, squashing and softmax are left out: they are a few thousand operations that
/// are not multiply-adds of a weight. An engine's share of the machine is its multiply-adds per second over the
/// machine's FMA rate.
/// <code>
/// forward           Σ weighted layers                          326,520   (C1 117,600  C3 150,000  C5 48,000  F6 10,080  OUT 840)
/// input gradients   the same past the first (C1's input is the image, whose gradient nobody needs)   208,920
/// weight gradients  one per forward multiply-add                326,520
/// training          all three                                   861,960
/// </code>
/// </summary>
public static class MultiplyAdds
{
    /// <summary>Multiply-adds of one weighted layer's outputs for one image; 0 for a layer with no weights per connection.</summary>
    public static long Of(LayerInfo layer) =>
        layer.Kind is LayerKind.Convolution or LayerKind.FullyConnected or LayerKind.Softmax ? layer.Connections - layer.Elements : 0;

    /// <summary>One image's forward pass.</summary>
    public static readonly long Forward = Architecture.Layers.Sum(Of);

    /// <summary>One image's input gradients, every weighted layer but the first.</summary>
    public static readonly long InputGradients = Architecture.Layers.Where(l => Of(l) > 0).Skip(1).Sum(Of);

    /// <summary>One image's weight gradients: one multiply-add per forward one.</summary>
    public static readonly long WeightGradients = Forward;

    /// <summary>One image's training step: forward, input gradients and weight gradients.</summary>
    public static readonly long Training = Forward + InputGradients + WeightGradients;
}

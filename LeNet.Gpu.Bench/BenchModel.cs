using LeNet.Gpu.Model;
using LeNet.Gpu.Serialization;

namespace LeNet.Gpu.Bench;

/// <summary>
/// The weights every inference benchmark and peer runs: the shipped digits model, which is also what
/// pytorch/lenet5_bench.py loads by default, so each side of a comparison computes with the same weights. (No path's
/// time depends on the weights' values; the point is that the peers run the same model.)
/// </summary>
public static class BenchModel
{
    public static LeNetModel Load() => ShippedModels.Load(ShippedModels.Digits);
}

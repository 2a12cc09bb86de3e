using LeNet.Gpu.Model;
using static LeNet.Gpu.Model.Architecture;

namespace LeNet.Gpu.Cpu;

/// <summary>Table I's 60 connections between S2 and C3, in the two orders the CPU engine's backward pass walks them.</summary>
internal static class C3Connections
{
    /// <summary>Table I's connections (its X marks); the table is checked against this count when the lists are built.</summary>
    public const int Count = 60;

    /// <summary>The connections (C3 map, S2 map), C3 map by C3 map.</summary>
    public static readonly (int Output, int Input)[] Pairs = BuildPairs();

    /// <summary>Per connection of <see cref="Pairs"/>: whether it is its C3 map's first (where the map's bias gradient is summed).</summary>
    public static readonly bool[] FirstOfOutput = Pairs.Select((p, k) => k == 0 || Pairs[k - 1].Output != p.Output).ToArray();

    /// <summary>Per S2 map, the C3 maps it feeds (compressed rows).</summary>
    public static readonly (int[] Start, int[] Outputs) OutputsOf = BuildOutputsOf();

    private static (int[] Start, int[] Outputs) BuildOutputsOf()
    {
        var start = new int[C1Maps + 1];
        var outputs = new List<int>();
        for (int i = 0; i < C1Maps; i++)
        {
            for (int o = 0; o < C3Maps; o++)
                if (ConnectionTable.IsConnected(o, i)) outputs.Add(o);
            start[i + 1] = outputs.Count;
        }
        return (start, outputs.ToArray());
    }

    private static (int, int)[] BuildPairs()
    {
        var pairs = new List<(int, int)>();
        for (int o = 0; o < C3Maps; o++)
            for (int i = 0; i < C1Maps; i++)
                if (ConnectionTable.IsConnected(o, i)) pairs.Add((o, i));
        if (pairs.Count != Count)
            throw new InvalidOperationException($"Table I has {pairs.Count} connections; the CPU engine's accumulators are laid out for {Count}");
        return pairs.ToArray();
    }
}

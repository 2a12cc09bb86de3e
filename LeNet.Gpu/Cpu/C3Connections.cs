using LeNet.Gpu.Model;

namespace LeNet.Gpu.Cpu;

/// <summary>Table I's 60 connections between S2 and C3, in the two orders the CPU engine's backward pass walks them.</summary>
internal static class C3Connections
{
    /// <summary>The connections (C3 map, S2 map), C3 map by C3 map.</summary>
    public static readonly (int Output, int Input)[] Pairs = BuildPairs();

    /// <summary>Per S2 map, the C3 maps it feeds (compressed rows).</summary>
    public static readonly (int[] Start, int[] Outputs) OutputsOf = BuildOutputsOf();

    private static (int[] Start, int[] Outputs) BuildOutputsOf()
    {
        var start = new int[7];
        var outputs = new List<int>();
        for (int i = 0; i < 6; i++)
        {
            for (int o = 0; o < 16; o++)
                if (ConnectionTable.IsConnected(o, i)) outputs.Add(o);
            start[i + 1] = outputs.Count;
        }
        return (start, outputs.ToArray());
    }

    private static (int, int)[] BuildPairs()
    {
        var pairs = new List<(int, int)>();
        for (int o = 0; o < 16; o++)
            for (int i = 0; i < 6; i++)
                if (ConnectionTable.IsConnected(o, i)) pairs.Add((o, i));
        return pairs.ToArray();
    }
}

using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace LeNet.Gpu.Bench;

/// <summary>
/// Images per second: the case's <c>BatchSize</c> parameter (times its <c>BatchesPerCall</c>, where it has one)
/// divided by its mean time per call.
/// </summary>
public sealed class ImagesPerSecondColumn : IColumn
{
    public string Id => "ImagesPerSecond";
    public string ColumnName => "images/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Images classified (or trained on) per second: BatchSize (× BatchesPerCall) / Mean";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        var report = summary[benchmarkCase];
        var batch = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "BatchSize")?.Value;
        if (report?.ResultStatistics is not { } stats || batch is not int images) return "-";
        if (benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "BatchesPerCall")?.Value is int batches)
            images *= batches;
        return (images / (stats.Mean / 1e9)).ToString("N0");
    }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
}

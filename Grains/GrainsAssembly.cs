namespace Platform.Grains; public static class GrainsAssembly;

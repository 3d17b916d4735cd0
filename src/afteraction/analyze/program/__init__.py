"""Program-level analyses over a period: trends, skill gaps and SOC process metrics."""

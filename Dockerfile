# Trident's container image: one static binary on distroless, as a
# non-root user. Build: docker build --build-arg VERSION=v1.2.3 -t trident .
# Run: docker run trident serve (or worker, migrate up, migrate bootstrap).
# The image has no PostgreSQL: `trident dev` is for a workstation.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/trident ./cmd/trident

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/trident /trident
# 65532 is distroless's nonroot user: no shell, no package manager, no root.
USER 65532:65532
EXPOSE 8080 8081
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s CMD ["/trident", "probe"]
ENTRYPOINT ["/trident"]
CMD ["serve"]

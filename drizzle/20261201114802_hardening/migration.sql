ALTER TABLE "settings" ADD COLUMN "call_limits" jsonb DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE "settings" ADD COLUMN "graphql_introspection" boolean DEFAULT false NOT NULL;